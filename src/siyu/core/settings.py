"""The one settings object: every knob siyu reads, from `SIYU_*` environment variables or `.env`.

Read it through `get_settings()`; tests call `get_settings.cache_clear()` after changing the environment.
"""

from __future__ import annotations

import base64
import re
from functools import lru_cache
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development-only secrets. They are public (they are in this file), so anything but
# `environment=development|test` refuses to start with them.
DEV_PII_KEY = base64.b64encode(b"siyu-development-pii-key-32bytes").decode()
DEV_BLIND_INDEX_KEY = "siyu-development-blind-index-key"
DEV_SECRET_KEY = "siyu-development-secret-key"  # noqa: S105 (refused outside development)

IdentityRules = dict[str, dict[str, int | bool]]
_TYPE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")

DEFAULT_PII_TRAITS = (
    "phone",
    "mobile",
    "email",
    "name",
    "first_name",
    "firstname",
    "last_name",
    "lastname",
    "full_name",
    "fullname",
    "real_name",
    "address",
    "id_card",
    "birth_name",
    "receiver",
    "receiver_name",
    "receiver_phone",
    "shipping_address",
    "姓名",
    "真实姓名",
    "手机",
    "手机号",
    "手机号码",
    "电话",
    "联系电话",
    "邮箱",
    "电子邮箱",
    "地址",
    "收货地址",
    "收货人",
    "身份证",
    "身份证号",
)


class Settings(BaseSettings):
    """Every field is described; the env var is `SIYU_` + the field name in upper case."""

    model_config = SettingsConfigDict(env_prefix="SIYU_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production", "staging"] = Field(
        "development", description="Deployment environment; default secrets are refused outside dev/test."
    )
    database_url: str = Field(
        "sqlite:///var/siyu.db",
        description="SQLAlchemy URL: sqlite:///path (embedded, WAL) or postgresql+psycopg://user@host/db.",
    )
    database_pool_size: int = Field(8, ge=1, description="Connection pool size (PostgreSQL).")
    secret_key: str = Field(DEV_SECRET_KEY, description="Key for hashing write keys and API tokens.")
    pii_keys: dict[str, str] = Field(
        default_factory=lambda: {"dev1": DEV_PII_KEY},
        description='AES-256-GCM keys for personal data, JSON {"key id": "base64 32-byte key"}.',
    )
    pii_active_key_id: str = Field("dev1", description="Key id used to encrypt new personal data.")
    blind_index_key: str = Field(
        DEV_BLIND_INDEX_KEY, description="HMAC key for the blind index used to look up personal data."
    )
    pii_traits: tuple[str, ...] = Field(
        DEFAULT_PII_TRAITS,
        description="Trait/property names (case-insensitive, ignoring _ and -) encrypted at rest.",
    )
    identity_rules: IdentityRules = Field(
        default_factory=dict,
        description='Per identity type overrides, JSON {"email": {"unique": true}, '
        '"pos_card": {"unique": true, "priority": 25}}: unique = at most one value per customer (merges '
        "that would break it are refused); priority = lower wins when a message carries several identities.",
    )
    default_phone_region: str = Field("CN", description="Region for phone numbers without a + prefix.")
    default_currency: str = Field("CNY", description="Currency assumed when an order does not name one.")
    max_message_bytes: int = Field(32 * 1024, description="Largest accepted tracking message (bytes).")
    max_request_bytes: int = Field(500 * 1024, description="Largest accepted tracking request (bytes).")
    timezone: str = Field("Asia/Shanghai", description="Brand time zone: daily rollups use its days.")
    host: str = Field("127.0.0.1", description="Address `siyu serve` binds.")
    port: int = Field(8000, description="Port `siyu serve` binds.")

    @field_validator("identity_rules")
    @classmethod
    def _check_identity_rules(
        cls, value: dict[str, dict[str, int | bool]]
    ) -> dict[str, dict[str, int | bool]]:
        for kind, spec in value.items():
            if not _TYPE_NAME.match(kind):
                raise ValueError(f"identity type {kind!r} must match [a-z][a-z0-9_]*")
            unknown = set(spec) - {"unique", "priority"}
            if unknown:
                raise ValueError(
                    f"identity rule {kind!r}: unknown keys {sorted(unknown)} (use unique, priority)"
                )
        return value

    @model_validator(mode="after")
    def _refuse_default_secrets(self) -> Settings:
        if self.environment in ("development", "test"):
            return self
        problems = []
        if self.secret_key == DEV_SECRET_KEY:
            problems.append("SIYU_SECRET_KEY")
        if DEV_PII_KEY in self.pii_keys.values():
            problems.append("SIYU_PII_KEYS")
        if self.blind_index_key == DEV_BLIND_INDEX_KEY:
            problems.append("SIYU_BLIND_INDEX_KEY")
        if problems:
            raise ValueError(
                f"default development secrets refused in environment={self.environment}: "
                f"set {', '.join(problems)}"
            )
        if self.pii_active_key_id not in self.pii_keys:
            raise ValueError("SIYU_PII_ACTIVE_KEY_ID names a key that is not in SIYU_PII_KEYS")
        return self

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")


@lru_cache
def get_settings() -> Settings:
    return Settings()
