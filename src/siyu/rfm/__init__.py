"""RFM: recency / frequency / monetary scores and the eight classic value tiers."""
