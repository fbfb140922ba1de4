"""siyu (私域): private-domain customer operations — ingestion, identity, profiles, segments, journeys."""

__version__ = "0.1.0"
