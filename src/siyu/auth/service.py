"""Sources (write keys) and API tokens (roles): created with a random secret shown once, stored hashed."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.tables import ApiToken, Source
from siyu.core.clock import now
from siyu.core.errors import Conflict, ValidationFailed
from siyu.core.settings import get_settings

# Role → permissions. `pii` lets a role see phone, email, name and address in full.
ROLES: dict[str, frozenset[str]] = {
    "admin": frozenset({"pii", "read", "write", "admin"}),
    "compliance": frozenset({"pii", "read"}),
    "operator": frozenset({"read", "write"}),
    "analyst": frozenset({"read"}),
    "advisor": frozenset({"read"}),
    "viewer": frozenset({"read"}),
}


def hash_secret(secret: str) -> str:
    key = get_settings().secret_key.encode()
    return hmac.new(key, secret.encode(), hashlib.sha256).hexdigest()


def _check_name(name: str) -> str:
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationFailed("name must be 1-100 characters", field="name")
    return name


def create_source(session: Session, name: str) -> tuple[Source, str]:
    """A new source and its write key (returned once; only its hash is stored)."""
    name = _check_name(name)
    if session.scalar(select(Source.id).where(Source.name == name)) is not None:
        raise Conflict(f"a source named {name!r} already exists", field="name")
    key = "wk_" + secrets.token_urlsafe(24)
    source = Source(name=name, write_key_hash=hash_secret(key), key_prefix=key[:10], created_at=now())
    session.add(source)
    session.flush()
    return source, key


def create_token(session: Session, name: str, role: str) -> tuple[ApiToken, str]:
    name = _check_name(name)
    if role not in ROLES:
        raise ValidationFailed(f"role must be one of {', '.join(ROLES)}", field="role")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise Conflict(f"a token named {name!r} already exists", field="name")
    token = "sy_" + secrets.token_urlsafe(32)
    row = ApiToken(
        name=name, role=role, token_hash=hash_secret(token), key_prefix=token[:10], created_at=now()
    )
    session.add(row)
    session.flush()
    return row, token


def source_for_key(session: Session, key: str) -> Source | None:
    if not key:
        return None
    return session.scalar(
        select(Source).where(Source.write_key_hash == hash_secret(key), Source.disabled.is_(False))
    )


def token_for(session: Session, token: str) -> ApiToken | None:
    if not token:
        return None
    return session.scalar(
        select(ApiToken).where(ApiToken.token_hash == hash_secret(token), ApiToken.revoked_at.is_(None))
    )
