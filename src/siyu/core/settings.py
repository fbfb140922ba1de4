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

    # --- Channels (siyu.channels, siyu.wecom). Empty credentials = that channel is not configured;
    # there are no default secrets here, so nothing to refuse outside development.
    channel_timeout_s: float = Field(
        10.0,
        gt=0,
        description="Timeout (seconds) of one call to a channel provider (WeCom, SMS, SMTP, webhook).",
    )
    wecom_api_base: str = Field(
        "https://qyapi.weixin.qq.com/cgi-bin/", description="WeCom server API base URL (ends with /cgi-bin/)."
    )
    wecom_corp_id: str = Field("", description="WeCom corp id (企业ID, `ww…`).")
    wecom_secret: str = Field(
        "",
        description="Secret of the WeCom app used for customer contact (客户联系 or a self-built app).",
    )
    wecom_agent_id: int | None = Field(None, description="Agent id of that app, when it is a self-built app.")
    wecom_callback_token: str = Field("", description="Token of the WeCom callback URL (回调 Token).")
    wecom_callback_aes_key: str = Field(
        "", description="EncodingAESKey of the WeCom callback URL (43 characters)."
    )
    aliyun_sms_endpoint: str = Field(
        "https://dysmsapi.aliyuncs.com/", description="Aliyun SMS (dysmsapi) endpoint."
    )
    aliyun_sms_access_key_id: str = Field("", description="Aliyun AccessKey id allowed to call dysmsapi.")
    aliyun_sms_access_key_secret: str = Field("", description="Aliyun AccessKey secret.")
    aliyun_sms_sign_name: str = Field("", description="Approved Aliyun SMS signature (签名名称).")
    aliyun_sms_region: str = Field("cn-hangzhou", description="Aliyun RegionId sent with SendSms.")
    tencent_sms_endpoint: str = Field(
        "https://sms.tencentcloudapi.com/", description="Tencent Cloud SMS API endpoint."
    )
    tencent_sms_secret_id: str = Field("", description="Tencent Cloud SecretId allowed to call SMS.")
    tencent_sms_secret_key: str = Field("", description="Tencent Cloud SecretKey.")
    tencent_sms_sdk_app_id: str = Field("", description="Tencent SMS SdkAppId (1400…).")
    tencent_sms_sign_name: str = Field("", description="Approved Tencent SMS signature (签名内容).")
    tencent_sms_region: str = Field(
        "ap-guangzhou", description="Tencent region (ap-guangzhou, ap-beijing, ap-nanjing)."
    )
    smtp_host: str = Field("", description="SMTP server for the email channel; empty = email not configured.")
    smtp_port: int = Field(587, ge=1, le=65535, description="SMTP port (587 STARTTLS, 465 TLS, 25 plain).")
    smtp_security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="SMTP transport security: starttls, tls (implicit, port 465) or none."
    )
    smtp_username: str = Field("", description="SMTP user name; empty = no authentication.")
    smtp_password: str = Field("", description="SMTP password.")
    email_from: str = Field("", description='From address of emails, e.g. "品牌 <hello@example.com>".')
    email_unsubscribe_mailto: str = Field(
        "", description="Mailbox receiving List-Unsubscribe mails, e.g. unsubscribe@example.com."
    )
    email_unsubscribe_url: str = Field(
        "",
        description="One-click unsubscribe URL template (https), with {customer_id} and {key} placeholders; "
        "used when a message carries no unsubscribe URL of its own.",
    )
    webhook_url: str = Field("", description="URL the webhook channel POSTs messages to.")
    webhook_secret: str = Field("", description="HMAC-SHA256 key signing webhook bodies.")

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
