"""Commerce: orders, order lines and products from e-commerce events; money in minor units."""
