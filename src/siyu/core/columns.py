"""Column types shared by every table: portable ids and JSON."""

from __future__ import annotations

from sqlalchemy import JSON, BigInteger, Integer
from sqlalchemy.dialects.postgresql import JSONB

# BIGINT on PostgreSQL; INTEGER on SQLite so the primary key aliases the rowid (autoincrement).
BigId = BigInteger().with_variant(Integer(), "sqlite")
Json = JSON().with_variant(JSONB(), "postgresql")
