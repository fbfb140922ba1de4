"""Bulk import of customers, orders and events from CSV, Excel, JSONL and Parquet."""
