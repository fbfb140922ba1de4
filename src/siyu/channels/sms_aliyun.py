"""Aliyun SMS (dysmsapi `SendSms`, version 2017-05-25) with the POP RPC signature v1.

Signature: parameters sorted by name, RFC 3986 percent-encoded (UTF-8; space %20, `~` kept), joined into
a query; StringToSign = METHOD & %2F & encode(query); Base64(HMAC-SHA1(secret + "&", StringToSign)).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import quote

import httpx

from siyu.core import clock
from siyu.core.errors import ValidationFailed
from siyu.core.pii import normalise_phone
from siyu.core.settings import Settings, get_settings

from .base import OutboundMessage, SendResult, require_settings, retry_after_seconds

API_VERSION = "2017-05-25"

# Provider codes that may succeed later, with the wait before trying again (seconds).
RETRYABLE = {
    "isv.BUSINESS_LIMIT_CONTROL": 60.0,  # per-number flow control: 1/min, 5/h, 10/day by default
    "isv.DAY_LIMIT_CONTROL": 3600.0,
    "isp.SYSTEM_ERROR": 5.0,
    "isp.GATEWAY_ERROR": 5.0,
    "Throttling": 5.0,
    "Throttling.User": 5.0,
    "Throttling.Api": 5.0,
    "ServiceUnavailable": 5.0,
    "InternalError": 5.0,
    "SignatureNonceUsed": 1.0,
    "InvalidTimeStamp.Expired": 1.0,
}


def percent_encode(value: str) -> str:
    """RFC 3986: unreserved characters (A-Z a-z 0-9 - _ . ~) kept, all else %XX of the UTF-8 bytes."""
    return quote(value, safe="-_.~")


def canonical_query(params: Mapping[str, str]) -> str:
    return "&".join(f"{percent_encode(k)}={percent_encode(v)}" for k, v in sorted(params.items()))


def string_to_sign(method: str, params: Mapping[str, str]) -> str:
    return f"{method.upper()}&{percent_encode('/')}&{percent_encode(canonical_query(params))}"


def pop_signature(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    payload = string_to_sign(method, params).encode("utf-8")
    digest = hmac.new(f"{access_key_secret}&".encode(), payload, hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def signed_query(method: str, params: Mapping[str, str], access_key_secret: str) -> str:
    """The request's query string: canonical parameters plus `Signature`."""
    signature = pop_signature(method, params, access_key_secret)
    return f"{canonical_query(params)}&Signature={percent_encode(signature)}"


def classify(code: str, message: str) -> SendResult:
    """A provider answer other than OK as a result: back-off for flow control and platform errors."""
    if code in RETRYABLE:
        return SendResult.retryable(code, message, RETRYABLE[code])
    if code.startswith("isp."):
        return SendResult.retryable(code, message, 5.0)
    return SendResult.permanent(code, message)  # isv.MOBILE_NUMBER_ILLEGAL, templates, balance, keys…


class AliyunSmsChannel:
    name = "sms_aliyun"

    def __init__(
        self,
        access_key_id: str,
        access_key_secret: str,
        sign_name: str,
        *,
        endpoint: str = "https://dysmsapi.aliyuncs.com/",
        region: str = "cn-hangzhou",
        timeout_s: float = 10.0,
        http: httpx.Client | None = None,
        nonce: Callable[[], str] = lambda: str(uuid.uuid4()),
    ) -> None:
        require_settings(
            self.name,
            aliyun_sms_access_key_id=access_key_id,
            aliyun_sms_access_key_secret=access_key_secret,
            aliyun_sms_sign_name=sign_name,
        )
        self.access_key_id = access_key_id
        self.access_key_secret = access_key_secret
        self.sign_name = sign_name
        self.endpoint = endpoint
        self.region = region
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout_s))
        self._owns_http = http is None
        self._nonce = nonce

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> AliyunSmsChannel:
        s = settings or get_settings()
        return cls(
            s.aliyun_sms_access_key_id,
            s.aliyun_sms_access_key_secret,
            s.aliyun_sms_sign_name,
            endpoint=s.aliyun_sms_endpoint,
            region=s.aliyun_sms_region,
            timeout_s=s.channel_timeout_s,
            **kwargs,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def request_params(self, message: OutboundMessage) -> dict[str, str]:
        """Every parameter of the SendSms request except Signature; ValidationFailed for bad input."""
        if not message.template_id:
            raise ValidationFailed("Aliyun SMS needs a TemplateCode (template_id)", field="template_id")
        phone = normalise_phone(message.recipient, get_settings().default_phone_region)
        params = {
            "AccessKeyId": self.access_key_id,
            "Action": "SendSms",
            "Format": "JSON",
            "RegionId": self.region,
            "SignatureMethod": "HMAC-SHA1",
            "SignatureNonce": self._nonce(),
            "SignatureVersion": "1.0",
            "Timestamp": clock.now().strftime("%Y-%m-%dT%H:%M:%SZ"),
            "Version": API_VERSION,
            "PhoneNumbers": phone.removeprefix("+"),  # Aliyun takes 86…, not +86…
            "SignName": self.sign_name,
            "TemplateCode": message.template_id,
            "OutId": message.idempotency_key,
        }
        if message.params:
            params["TemplateParam"] = json.dumps(message.params, ensure_ascii=False, separators=(",", ":"))
        return params

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            params = self.request_params(message)
        except ValidationFailed as exc:
            return SendResult.permanent("invalid_message", exc.message)
        url = f"{self.endpoint}?{signed_query('GET', params, self.access_key_secret)}"
        try:
            response = self._http.get(url)
        except httpx.TimeoutException as exc:
            return SendResult.retryable("timeout", str(exc) or "timed out", 5.0)
        except httpx.HTTPError as exc:
            return SendResult.retryable("transport", f"{type(exc).__name__}: {exc}", 5.0)
        try:
            data = response.json()
        except ValueError:
            data = None
        if not isinstance(data, dict) or "Code" not in data:
            if response.status_code >= 500 or response.status_code == 429:
                wait = retry_after_seconds(response.headers.get("Retry-After"), 5.0)
                return SendResult.retryable(f"http_{response.status_code}", "provider unavailable", wait)
            return SendResult.permanent(f"http_{response.status_code}", "unexpected answer from Aliyun")
        code, text = str(data["Code"]), str(data.get("Message", ""))
        if code == "OK":
            return SendResult.sent(str(data.get("BizId") or "") or None)
        return classify(code, text)
