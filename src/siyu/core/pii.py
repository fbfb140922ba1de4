"""Personal data at rest: AES-256-GCM encryption with key ids, keyed blind indexes, normalisation, masking.

Ciphertext is text `"<key id>$<base64(nonce|ciphertext|tag)>"` so keys can rotate; lookups go through
`blind_index(kind, value)`, an HMAC-SHA256 of the normalised value, never through the plain value.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from functools import lru_cache
from typing import Any

import orjson
import phonenumbers
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings, get_settings

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE_CHARS = re.compile(r"^\+?[0-9 ()\-]{3,32}$")


def normalise_phone(value: str, region: str | None = None) -> str:
    """E.164 (`+8613912345678`); raises ValidationFailed when the number is not plausible."""
    raw = str(value).strip()
    if not _PHONE_CHARS.match(raw):
        raise ValidationFailed("a phone number may contain only digits, spaces, +, -, ( and )", field="phone")
    try:
        parsed = phonenumbers.parse(raw, None if raw.startswith("+") else (region or "CN"))
    except phonenumbers.NumberParseException as exc:
        raise ValidationFailed(f"not a phone number: {exc}", field="phone") from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValidationFailed("not a possible phone number", field="phone")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    email = str(value).strip().lower()
    if not _EMAIL.match(email):
        raise ValidationFailed("not an email address", field="email")
    return email


def mask(kind: str, value: str) -> str:
    """What a role without PII access sees: 138****5678, z***@example.com, 张*."""
    if kind == "phone":
        digits = value[3:] if value.startswith("+86") else value.lstrip("+")
        if len(digits) >= 7:
            return f"{digits[:3]}****{digits[-4:]}"
        return "*" * len(digits)
    if kind == "email" and "@" in value:
        local, domain = value.split("@", 1)
        return f"{local[:1]}***@{domain}"
    if not value:
        return value
    return value[:1] + "*" * max(1, min(len(value) - 1, 6))


class Vault:
    """Encrypts, decrypts and indexes personal data with the keys in settings."""

    def __init__(self, settings: Settings) -> None:
        self._keys = {kid: AESGCM(base64.b64decode(key)) for kid, key in settings.pii_keys.items()}
        self._active = settings.pii_active_key_id
        self._index_key = settings.blind_index_key.encode()
        self._pii_names = frozenset(_canonical(n) for n in settings.pii_traits)
        self.region = settings.default_phone_region

    def encrypt(self, plaintext: bytes) -> str:
        nonce = os.urandom(12)
        sealed = self._keys[self._active].encrypt(nonce, plaintext, None)
        return f"{self._active}${base64.b64encode(nonce + sealed).decode()}"

    def decrypt(self, token: str) -> bytes:
        kid, _, body = token.partition("$")
        if kid not in self._keys:
            raise KeyError(f"personal-data key {kid!r} is not configured")
        blob = base64.b64decode(body)
        return self._keys[kid].decrypt(blob[:12], blob[12:], None)

    def encrypt_json(self, value: Any) -> str:
        return self.encrypt(orjson.dumps(value))

    def decrypt_json(self, token: str) -> Any:
        return orjson.loads(self.decrypt(token))

    def blind_index(self, kind: str, normalised: str) -> str:
        digest = hmac.new(self._index_key, f"{kind}:{normalised}".encode(), hashlib.sha256)
        return digest.hexdigest()[:40]

    def is_pii_name(self, name: str) -> bool:
        return _canonical(name) in self._pii_names

    def split_pii(self, data: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """(public part, personal part) of a flat dict, by key name."""
        public: dict[str, Any] = {}
        personal: dict[str, Any] = {}
        for key, value in data.items():
            (personal if self.is_pii_name(key) else public)[key] = value
        return public, personal


@lru_cache(maxsize=4096)
def _canonical(name: str) -> str:
    return name.lower().replace("_", "").replace("-", "")


@lru_cache
def _vault_for(settings_id: int) -> Vault:
    return Vault(get_settings())


def get_vault() -> Vault:
    return _vault_for(id(get_settings()))
