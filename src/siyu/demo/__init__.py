"""The demo brand: a reproducible skincare brand generated through the ingestion path."""
