"""Tencent Cloud SMS (`SendSms`, version 2021-01-11) signed with TC3-HMAC-SHA256.

CanonicalRequest = method, "/", query, canonical headers, signed headers, sha256(payload); StringToSign =
"TC3-HMAC-SHA256", timestamp, "date/service/tc3_request", sha256(CanonicalRequest); the key is derived
HMAC("TC3" + SecretKey, date) -> service -> "tc3_request". Templates use numbered placeholders {1}, {2}.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import httpx

from siyu.core import clock
from siyu.core.errors import ValidationFailed
from siyu.core.pii import normalise_phone
from siyu.core.settings import Settings, get_settings

from .base import OutboundMessage, SendResult, require_settings, retry_after_seconds

ALGORITHM = "TC3-HMAC-SHA256"
CONTENT_TYPE = "application/json; charset=utf-8"
API_VERSION = "2021-01-11"

# Codes (or code prefixes) worth retrying later, with the wait (seconds).
RETRYABLE = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": 30.0,
    "LimitExceeded.PhoneNumberOneHourLimit": 3600.0,
    "LimitExceeded.PhoneNumberDailyLimit": 86400.0,
    "LimitExceeded.DeliveryFrequencyLimit": 60.0,
    "RequestLimitExceeded": 1.0,
    "InternalError": 5.0,
}


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def canonical_request(
    method: str, query: str, headers: Mapping[str, str], signed_headers: str, payload: bytes
) -> str:
    """`headers` must hold exactly the signed headers; names and values are lower-cased and trimmed."""
    canonical = "".join(f"{k.lower()}:{headers[k].strip().lower()}\n" for k in sorted(headers, key=str.lower))
    return "\n".join([method.upper(), "/", query, canonical, signed_headers, sha256_hex(payload)])


def string_to_sign(timestamp: int, service: str, canonical: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    return "\n".join(
        [ALGORITHM, str(timestamp), f"{date}/{service}/tc3_request", sha256_hex(canonical.encode("utf-8"))]
    )


def tc3_signature(secret_key: str, timestamp: int, service: str, to_sign: str) -> str:
    date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
    secret_date = _hmac(f"TC3{secret_key}".encode(), date)
    secret_signing = _hmac(_hmac(secret_date, service), "tc3_request")
    return hmac.new(secret_signing, to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Tc3Signer:
    secret_id: str
    secret_key: str
    service: str

    def headers(
        self, host: str, action: str, version: str, region: str, payload: bytes, timestamp: int
    ) -> dict[str, str]:
        """Every header of a signed POST (JSON body), signing content-type and host."""
        signed = {"content-type": CONTENT_TYPE, "host": host}
        canonical = canonical_request("POST", "", signed, "content-type;host", payload)
        signature = tc3_signature(
            self.secret_key, timestamp, self.service, string_to_sign(timestamp, self.service, canonical)
        )
        date = datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%d")
        authorization = (
            f"{ALGORITHM} Credential={self.secret_id}/{date}/{self.service}/tc3_request, "
            f"SignedHeaders=content-type;host, Signature={signature}"
        )
        return {
            "Authorization": authorization,
            "Content-Type": CONTENT_TYPE,
            "Host": host,
            "X-TC-Action": action,
            "X-TC-Version": version,
            "X-TC-Timestamp": str(timestamp),
            "X-TC-Region": region,
        }


def classify(code: str, message: str) -> SendResult:
    for known, wait in RETRYABLE.items():
        if code == known or code.startswith(known + "."):
            return SendResult.retryable(code, message, wait)
    if code.startswith("LimitExceeded."):
        return SendResult.retryable(code, message, 60.0)
    return SendResult.permanent(code, message)  # InvalidParameterValue.*, FailedOperation.*, AuthFailure.*…


def template_param_set(params: Mapping[str, str]) -> list[str]:
    """Tencent templates are filled by position: params keyed "1", "2", … in that order."""
    if not params:
        return []
    if not all(key.isdecimal() for key in params):
        raise ValidationFailed('Tencent SMS parameters are numbered: {"1": …, "2": …}', field="params")
    numbers = sorted(int(key) for key in params)
    if numbers != list(range(1, len(numbers) + 1)):
        raise ValidationFailed("Tencent SMS parameters must be numbered 1..n without gaps", field="params")
    return [params[str(n)] for n in numbers]


class TencentSmsChannel:
    name = "sms_tencent"

    def __init__(
        self,
        secret_id: str,
        secret_key: str,
        sdk_app_id: str,
        sign_name: str,
        *,
        endpoint: str = "https://sms.tencentcloudapi.com/",
        region: str = "ap-guangzhou",
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
    ) -> None:
        require_settings(
            self.name,
            tencent_sms_secret_id=secret_id,
            tencent_sms_secret_key=secret_key,
            tencent_sms_sdk_app_id=sdk_app_id,
            tencent_sms_sign_name=sign_name,
        )
        self.signer = Tc3Signer(secret_id, secret_key, "sms")
        self.sdk_app_id = sdk_app_id
        self.sign_name = sign_name
        self.endpoint = endpoint
        self.host = urlsplit(endpoint).netloc
        self.region = region
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout_s))
        self._owns_http = http is None

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> TencentSmsChannel:
        s = settings or get_settings()
        return cls(
            s.tencent_sms_secret_id,
            s.tencent_sms_secret_key,
            s.tencent_sms_sdk_app_id,
            s.tencent_sms_sign_name,
            endpoint=s.tencent_sms_endpoint,
            region=s.tencent_sms_region,
            timeout_s=s.channel_timeout_s,
            **kwargs,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def payload(self, message: OutboundMessage) -> dict[str, Any]:
        if not message.template_id:
            raise ValidationFailed("Tencent SMS needs a TemplateId (template_id)", field="template_id")
        return {
            "PhoneNumberSet": [normalise_phone(message.recipient, get_settings().default_phone_region)],
            "SmsSdkAppId": self.sdk_app_id,
            "SignName": self.sign_name,
            "TemplateId": message.template_id,
            "TemplateParamSet": template_param_set(message.params),
            "SessionContext": message.idempotency_key,
        }

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        except ValidationFailed as exc:
            return SendResult.permanent("invalid_message", exc.message)
        timestamp = int(clock.now().timestamp())
        headers = self.signer.headers(self.host, "SendSms", API_VERSION, self.region, body, timestamp)
        try:
            response = self._http.post(self.endpoint, content=body, headers=headers)
        except httpx.TimeoutException as exc:
            return SendResult.retryable("timeout", str(exc) or "timed out", 5.0)
        except httpx.HTTPError as exc:
            return SendResult.retryable("transport", f"{type(exc).__name__}: {exc}", 5.0)
        try:
            answer = response.json().get("Response")
        except (ValueError, AttributeError):
            answer = None
        if not isinstance(answer, dict):
            if response.status_code >= 500 or response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"), 5.0)
                return SendResult.retryable(f"http_{response.status_code}", "provider unavailable", wait)
            return SendResult.permanent(
                f"http_{response.status_code}", "unexpected answer from Tencent Cloud"
            )
        error = answer.get("Error")
        if isinstance(error, dict):
            return classify(str(error.get("Code", "")), str(error.get("Message", "")))
        statuses = answer.get("SendStatusSet") or []
        if not statuses:
            return SendResult.permanent("empty_answer", "SendSms answered no SendStatusSet")
        status = statuses[0]
        code = str(status.get("Code", ""))
        if code == "Ok":
            return SendResult.sent(str(status.get("SerialNo") or "") or None)
        return classify(code, str(status.get("Message", "")))
