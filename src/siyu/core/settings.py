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
    ingest_writer_socket: str = Field(
        "",
        description="Set by `siyu serve --workers N` on SQLite for its server processes: the Unix socket "
        "of the one ingestion writer (siyu.events.writer). Not an operator setting.",
    )
    sqlite_writer_cache_mib: int = Field(
        64,
        ge=2,
        le=65536,
        description="SQLite page cache (MiB) of the connections in the `siyu serve` process when it is "
        "the one ingestion writer (`--workers N`). 256 MiB showed no gain at 1M events (+230 MB RSS); "
        "a database much larger than that may.",
    )
    sqlite_identity_cache_entries: int = Field(
        500_000,
        ge=0,
        le=50_000_000,
        description="Identities (key → customer) the SQLite ingestion writer keeps in memory between its "
        "transactions, so that returning customers' keys need no lookup (about 150 bytes each); "
        "0 turns the cache off. Any change of an identity's owner by anyone empties it.",
    )
    host: str = Field("127.0.0.1", description="Address `siyu serve` binds.")
    port: int = Field(8000, description="Port `siyu serve` binds.")

    # --- RFM value tiers and lifecycle stages (siyu.rfm, siyu.lifecycle; docs/rfm-lifecycle.md) ---
    rfm_window_days: int = Field(
        365, ge=0, le=36500, description="RFM counts orders completed in the last N days; 0 = all history."
    )
    rfm_order_sources: tuple[str, ...] = Field(
        (), description="RFM counts only orders from these tracking sources (by name); empty = every source."
    )
    rfm_order_categories: tuple[str, ...] = Field(
        (), description="RFM counts only orders with a product line in these categories; empty = every order."
    )
    rfm_method: Literal["quintiles", "thresholds"] = Field(
        "quintiles",
        description="RFM cut points: quintiles of the customers, or the operator's rfm_thresholds.",
    )
    rfm_thresholds: dict[str, list[float]] = Field(
        default_factory=dict,
        description='Cut points for rfm_method=thresholds, JSON {"recency_days": [180, 90, 60, 30], '
        '"frequency": [2, 3, 5, 8], "monetary": [200, 500, 1000, 3000]}: the value needed for scores 2..5 '
        "(recency: at most that many days; monetary in major units of default_currency, e.g. yuan).",
    )
    rfm_high_score: int = Field(
        3, ge=2, le=5, description="An R, F or M score at or above this counts as high when picking the tier."
    )
    lifecycle_new_days: int = Field(
        30, ge=1, description="新客: a one-order buyer stays new for this many days after the first order."
    )
    lifecycle_dormant_days: int = Field(
        30, ge=1, description="沉睡: a buyer with no interaction and no purchase for this many days."
    )
    lifecycle_churn_days: int = Field(
        180, ge=1, description="流失: a buyer with no interaction and no purchase for this many days."
    )
    lifecycle_category_cycles: dict[str, int] = Field(
        default_factory=dict,
        description='Consumption cycle (days) per product category, JSON {"精华": 60}: a buyer whose last '
        "order holds such a product goes dormant only after max(dormant days, cycle × cycle factor).",
    )
    lifecycle_cycle_factor: float = Field(
        1.5, ge=1, le=10, description="How many consumption cycles without a purchase make a buyer dormant."
    )

    @model_validator(mode="after")
    def _check_rfm_lifecycle(self) -> Settings:
        dims = {"recency_days": True, "frequency": False, "monetary": False}  # name -> counts down
        unknown = set(self.rfm_thresholds) - set(dims)
        if unknown:
            raise ValueError(f"rfm_thresholds: unknown keys {sorted(unknown)} (use {', '.join(dims)})")
        if self.rfm_method == "thresholds" and set(self.rfm_thresholds) != set(dims):
            raise ValueError(
                "rfm_method=thresholds needs rfm_thresholds for recency_days, frequency, monetary"
            )
        for name, cuts in self.rfm_thresholds.items():
            if len(cuts) != 4 or cuts != sorted(cuts, reverse=dims[name]):
                way = "decreasing" if dims[name] else "increasing"
                raise ValueError(f"rfm_thresholds.{name}: give 4 cut points (scores 2..5), {way}")
        if self.lifecycle_churn_days <= self.lifecycle_dormant_days:
            raise ValueError("lifecycle_churn_days must be longer than lifecycle_dormant_days")
        if any(days < 1 for days in self.lifecycle_category_cycles.values()):
            raise ValueError("lifecycle_category_cycles: cycles are whole days, at least 1")
        return self

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

    # --- Contact-pressure governor and message templates (siyu.messaging; docs/journeys.md) ---
    governor_marketing_per_day: int = Field(
        2,
        ge=0,
        le=100,
        description="Marketing messages per customer per local day, across all channels and journeys; "
        "0 = no marketing at all.",
    )
    governor_marketing_per_week: int = Field(
        5, ge=0, le=700, description="Marketing messages per customer per local ISO week (Monday-Sunday)."
    )
    governor_quiet_start: str = Field(
        "21:00",
        pattern=r"^([01]\d|2[0-3]):[0-5]\d$",
        description="Quiet hours start, HH:MM in the customer's zone: marketing and non-urgent service "
        "messages wait until they end. Equal to the end = no quiet hours.",
    )
    governor_quiet_end: str = Field(
        "09:00", pattern=r"^([01]\d|2[0-3]):[0-5]\d$", description="Quiet hours end, HH:MM local time."
    )
    governor_wecom_mass_per_day: int = Field(
        1,
        ge=0,
        description="WeCom mass messages (add_msg_template) per customer per local day; WeCom allows 1.",
    )
    governor_marketing_opt_in: bool = Field(
        False,
        description="Marketing needs a recorded `granted` consent; "
        "false = allowed unless denied or unsubscribed.",
    )
    governor_max_defer_days: int = Field(
        60, ge=1, le=400, description="No allowed slot within this many days: the message is dropped."
    )
    template_max_source_chars: int = Field(
        20_000, ge=100, description="Longest message template source an operator may save."
    )
    template_sms_max_chars: int = Field(
        500,
        ge=70,
        description="Longest SMS (signature with its 【】 + text) in characters; Aliyun and Tencent "
        "accept 500 (over 70 characters is billed per 67-character segment).",
    )
    template_wecom_max_bytes: int = Field(
        4000,
        ge=100,
        description="Longest WeCom text (UTF-8 bytes): add_msg_template and send_welcome_msg accept 4000.",
    )
    template_email_max_bytes: int = Field(
        1_000_000, ge=1000, description="Longest rendered email body (UTF-8 bytes); a siyu limit."
    )
    template_webhook_max_bytes: int = Field(
        65_536, ge=1000, description="Longest rendered webhook body (UTF-8 bytes); a siyu limit."
    )

    # --- Segments and the background worker (siyu.segments, siyu.worker; docs/segments.md) ---
    worker_poll_interval_s: float = Field(
        0.2, gt=0, le=60, description="How often the worker looks for due work (seconds)."
    )
    worker_batch_size: int = Field(
        500, ge=1, le=5000, description="Customers the worker re-evaluates in one transaction."
    )
    inprocess_worker: bool = Field(
        True,
        description="`siyu serve` runs the worker in a background thread; set false when separate "
        "`siyu worker` processes do the work (PostgreSQL).",
    )
    segment_preview_sample: int = Field(
        20, ge=0, le=200, description="Customers returned as a sample with a segment preview."
    )
    lifecycle_sweep_interval_s: int = Field(
        3600, ge=60, description="How often the worker runs the time-driven lifecycle sweep (seconds)."
    )
    rfm_recompute_hour: int | None = Field(
        3, ge=0, le=23, description="Local hour (brand zone) of the nightly full RFM recompute; null = never."
    )
    segment_rebuild_interval_s: int = Field(
        0,
        ge=0,
        description="Fully rebuild every dynamic segment and rule tag every N seconds; 0 = never "
        "(the queue and its time re-checks keep them current).",
    )
    segment_first_build_events: bool = Field(
        False,
        description="Write a Segment Entered timeline event for every member a new segment's first build "
        "finds (off: nothing can be listening to a segment that did not exist; members keep entered_at).",
    )

    # --- Journey runner, outbox and closed loop (siyu.journeys.runner, siyu.messaging.dispatch;
    # docs/journeys-runtime.md) ---
    public_base_url: str = Field(
        "http://127.0.0.1:8000",
        description="Public base URL of this siyu (no trailing slash): tracked links /t/…, email open "
        "pixels /o/…, unsubscribe links /u/… are built on it.",
    )
    track_links: bool = Field(
        True, description="Rewrite http(s) links in sent messages to tracked short links (/t/{code})."
    )
    runner_batch_size: int = Field(
        500, ge=1, le=5000, description="Timers, events or outbox rows one runner transaction claims."
    )
    outbox_send_threads: int = Field(
        16, ge=1, le=256, description="Concurrent channel calls per worker process when dispatching."
    )
    outbox_lease_s: float = Field(
        120.0,
        gt=0,
        description="A message marked `sending` by a worker that died is sent again (same idempotency "
        "key) after this many seconds.",
    )
    outbox_max_attempts: int = Field(
        8, ge=1, le=100, description="Retryable channel failures before a message is marked failed."
    )
    outbox_retry_base_s: float = Field(
        30.0, gt=0, description="First retry delay after a retryable failure; doubles per attempt."
    )
    runner_event_gap_wait_s: float = Field(
        60.0,
        ge=0,
        description="PostgreSQL: how long the event reader waits for ids it skipped (transactions "
        "still open) before giving up on them.",
    )

    # --- Predictions on profiles: next purchase, replenishment, churn risk, send hour, predictive tags
    # (siyu.predict.service; docs/predictions.md) ---
    # --- Analytics jobs (siyu.analytics.jobs)
    analytics_materialise_hour: int | None = Field(
        2,
        ge=0,
        le=23,
        description="Local hour (brand zone) at which yesterday's metrics are stored and health alerts are "
        "evaluated; null = never.",
    )
    predict_refresh_hour: int | None = Field(
        4, ge=0, le=23, description="Local hour (brand zone) of the nightly prediction refresh; null = never."
    )
    predict_churn_days: int = Field(
        90,
        ge=7,
        le=730,
        description="Churn risk is P(no purchase in the next N days); the classifier learns from features "
        "as of N days ago and who bought since.",
    )
    predict_churn_threshold: float = Field(
        0.7, gt=0, lt=1, description="Buyers with a churn risk at least this carry the tag 高流失风险."
    )
    predict_high_potential_share: float = Field(
        0.1,
        gt=0,
        lt=1,
        description="高潜力: this top share, by predicted CLV, of the buyers likely still active.",
    )
    predict_alive_threshold: float = Field(
        0.5,
        ge=0,
        le=1,
        description="A buyer with P(alive) below this gets no next-purchase window and never 高潜力.",
    )
    predict_clv_months: int = Field(12, ge=1, le=120, description="CLV horizon in months.")
    predict_clv_monthly_discount: float = Field(
        0.01, ge=0, le=1, description="Monthly discount rate applied to future purchases in the CLV."
    )
    predict_next_purchase_max_days: int = Field(
        730, ge=30, le=3650, description="Next-purchase dates further ahead than this are shown as null."
    )
    predict_send_hour_lookback_days: int = Field(
        365,
        ge=7,
        le=3650,
        description="Opens, clicks and replies of the last N days feed the best send hour.",
    )
    predict_replenish_cycles: dict[str, float] = Field(
        default_factory=dict,
        description='Consumption cycle in days per unit, JSON {"serum-30ml": 90, "精华": 60}: a key matches '
        "a product id (or SKU) first, then a category; categories also fall back to "
        "lifecycle_category_cycles; other products use their repeat buyers' median interval.",
    )
    predict_replenish_remind_days: int = Field(
        15, ge=0, le=365, description="Remind this many days before the expected replenish date."
    )
    predict_replenish_min_buyers: int = Field(
        5, ge=2, description="Repeat buyers needed to estimate a product's cycle from the orders."
    )
    predict_churn_min_customers: int = Field(
        200,
        ge=20,
        description="Buyers needed to train the churn classifier; with fewer, churn risk comes from BG/NBD.",
    )
    predict_churn_max_train: int = Field(
        200_000, ge=1000, description="At most this many customers train the churn classifier (a sample)."
    )
    wecom_confirmation_interval_s: int = Field(
        300,
        ge=0,
        description="How often the worker reads WeCom mass sends' confirmation state back (s; 0 = never).",
    )
    wecom_confirmation_expiry_hours: float = Field(
        72.0,
        gt=0,
        description="A WeCom mass send still unconfirmed this long after it was queued fails: "
        "expired_unconfirmed.",
    )
    wecom_confirmation_max_tasks: int = Field(
        200,
        ge=1,
        le=10_000,
        description="WeCom mass-send tasks (msgid, sender) one confirmation run reads at most.",
    )

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
