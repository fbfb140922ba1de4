"""Identity types, their rules (unique per customer? personal data? priority) and key normalisation.

A key is `(type, lookup)`: `lookup` is the normalised value for ordinary ids and a blind index for
personal data (phone, email), so the plain value never reaches an index.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, NamedTuple

from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault, normalise_email, normalise_phone
from siyu.core.settings import Settings, get_settings


@dataclass(frozen=True)
class IdentityRule:
    unique: bool  # at most one value of this type per customer: merging two customers that differ is refused
    priority: int  # lower wins: the customer of the best identity receives the event
    pii: bool = False


DEFAULT_RULES: dict[str, IdentityRule] = {
    "user_id": IdentityRule(unique=True, priority=10),
    "member_id": IdentityRule(unique=True, priority=20),
    "unionid": IdentityRule(unique=True, priority=30),
    "phone": IdentityRule(unique=True, priority=40, pii=True),
    "email": IdentityRule(unique=False, priority=50, pii=True),
    "wecom_external_userid": IdentityRule(unique=True, priority=60),
    "openid": IdentityRule(unique=False, priority=70),
    "anonymous_id": IdentityRule(unique=False, priority=100),
}
CUSTOM_RULE = IdentityRule(unique=False, priority=80)
# Which types hold personal data is fixed (settings may change uniqueness and priority only).
PII_TYPES = frozenset(kind for kind, rule in DEFAULT_RULES.items() if rule.pii)

# Trait names (canonical: lower case, no '_' or '-') that carry an identity, and the type they map to.
TRAIT_IDENTITIES = {
    "phone": "phone",
    "mobile": "phone",
    "email": "email",
    "memberid": "member_id",
    "unionid": "unionid",
    "openid": "openid",
    "wecomexternaluserid": "wecom_external_userid",
    "externaluserid": "wecom_external_userid",
    "手机": "phone",
    "手机号": "phone",
    "手机号码": "phone",
    "邮箱": "email",
    "电子邮箱": "email",
    "会员号": "member_id",
    "会员id": "member_id",
}

_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


_cached: tuple[Settings, dict[str, IdentityRule]] | None = None


def rules() -> dict[str, IdentityRule]:
    """Identity rules: the defaults above, overridden per type by `SIYU_IDENTITY_RULES`."""
    global _cached
    settings = get_settings()
    if _cached is not None and _cached[0] is settings:
        return _cached[1]
    merged = dict(DEFAULT_RULES)
    for kind, spec in settings.identity_rules.items():
        base = merged.get(kind, CUSTOM_RULE)
        merged[kind] = IdentityRule(
            unique=bool(spec.get("unique", base.unique)),
            priority=int(spec.get("priority", base.priority)),
            pii=base.pii,  # which values are personal data is not configurable
        )
    _cached = (settings, merged)
    return merged


def rule_for(kind: str) -> IdentityRule:
    return rules().get(kind, CUSTOM_RULE)


def unique_types() -> list[str]:
    return sorted(kind for kind, rule in rules().items() if rule.unique)


def check_type(kind: str) -> str:
    kind = kind.strip().lower()
    if not _TYPE_NAME.match(kind):
        raise ValidationFailed(f"identity type {kind!r} must match [a-z][a-z0-9_]*", field="type")
    return kind


class IdentityKey(NamedTuple):
    """A tuple, so that a prepared batch crosses to the ingestion writer cheaply (siyu.events.writer)."""

    type: str
    lookup: str
    value: str | None  # plain value for ordinary ids; None for personal data
    value_enc: str | None  # ciphertext for personal data

    @property
    def key(self) -> tuple[str, str]:
        return (self.type, self.lookup)


def make_key(vault: Vault, kind: str, raw: Any) -> IdentityKey:
    """Normalise `raw` as an identity of `kind`; raises ValidationFailed naming the type."""
    if kind not in DEFAULT_RULES:
        kind = check_type(kind)
    if type(raw) is str:
        text = raw.strip()
    elif isinstance(raw, int | float) and not isinstance(raw, bool):
        text = str(raw)
    else:
        text = ""
    if not text:
        raise ValidationFailed(f"{kind} must be a non-empty string", field=kind)
    if len(text) > 255:
        raise ValidationFailed(f"{kind} is longer than 255 characters", field=kind)
    if kind == "phone":
        norm = normalise_phone(text, vault.region)
    elif kind == "email":
        norm = normalise_email(text)
    else:
        norm = text
    if kind in PII_TYPES:
        return IdentityKey(kind, vault.blind_index(kind, norm), None, vault.encrypt(norm.encode()))
    return IdentityKey(kind, norm, norm, None)


def lookup_key(vault: Vault, kind: str, raw: str) -> tuple[str, str]:
    """The `(type, lookup)` to search for, without encrypting anything."""
    kind = check_type(kind)
    if kind == "phone":
        return kind, vault.blind_index(kind, normalise_phone(raw, vault.region))
    if kind == "email":
        return kind, vault.blind_index(kind, normalise_email(raw))
    if rule_for(kind).pii:
        return kind, vault.blind_index(kind, raw.strip())
    return kind, raw.strip()


@lru_cache(maxsize=4096)
def canonical_trait(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")
