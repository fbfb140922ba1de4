"""Events: Segment-compatible tracking API, ingestion pipeline, timelines."""
