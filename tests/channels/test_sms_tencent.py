"""Tencent Cloud SendSms: the documented TC3 example, then the channel against the fake SMS API."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.channels.base import SendStatus
from siyu.channels.sms_tencent import (
    Tc3Signer,
    TencentSmsChannel,
    canonical_request,
    sha256_hex,
    string_to_sign,
    tc3_signature,
)
from tests.conftest import FrozenClock
from tests.fixtures.fake_providers import FakeTencentSms

from .conftest import message

# Tencent Cloud API 3.0 "签名方法 v3" worked example: CVM DescribeInstances at 1551113065.
PAYLOAD = b'{"Limit": 1, "Filters": [{"Values": ["\\u672a\\u547d\\u540d"], "Name": "instance-name"}]}'
HEADERS = {"content-type": "application/json; charset=utf-8", "host": "cvm.tencentcloudapi.com"}
CANONICAL = (
    "POST\n/\n\ncontent-type:application/json; charset=utf-8\nhost:cvm.tencentcloudapi.com\n\n"
    "content-type;host\n35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
)
TO_SIGN = (
    "TC3-HMAC-SHA256\n1551113065\n2019-02-25/cvm/tc3_request\n"
    "5ffe6a04c0664d6b969fab9a13bdab201d63ee709638e2749d62a09ca18d7031"
)


def test_documented_canonical_request_and_string_to_sign() -> None:
    assert sha256_hex(PAYLOAD) == "35e9c5b0e3ae67532d3c9f17ead6c90222632e5b1ff7f6e89887f1398934f064"
    assert canonical_request("POST", "", HEADERS, "content-type;host", PAYLOAD) == CANONICAL
    assert string_to_sign(1551113065, "cvm", CANONICAL) == TO_SIGN


def test_documented_signatures() -> None:
    # The Chinese page signs with the masked key exactly as printed; the English page prints an
    # EXAMPLE key. Both signatures are published; both are reproduced.
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3*******", 1551113065, "cvm", TO_SIGN) == (
        "2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )
    assert tc3_signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE", 1551113065, "cvm", TO_SIGN) == (
        "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
    )


def test_documented_authorization_header() -> None:
    signer = Tc3Signer("AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******", "Gu5t9xGARNpq86cd98joQYCN3*******", "cvm")
    headers = signer.headers(
        "cvm.tencentcloudapi.com", "DescribeInstances", "2017-03-12", "ap-guangzhou", PAYLOAD, 1551113065
    )
    assert headers["Authorization"] == (
        "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3*******/2019-02-25/cvm/tc3_request, "
        "SignedHeaders=content-type;host, "
        "Signature=2230eefd229f582d8b1b891af7107b91597240707d778ab3738f756258d7652c"
    )
    assert headers["X-TC-Timestamp"] == "1551113065" and headers["X-TC-Action"] == "DescribeInstances"


def test_date_is_the_utc_date_of_the_timestamp() -> None:
    # 1551139200 is 2019-02-26 00:00 UTC (08:00 in Beijing); one second earlier is still the 25th.
    assert "2019-02-25/sms/" in string_to_sign(1551139199, "sms", "x")
    assert "2019-02-26/sms/" in string_to_sign(1551139200, "sms", "x")


def channel(fake: FakeTencentSms, key: str | None = None) -> TencentSmsChannel:
    return TencentSmsChannel(
        fake.secret_id, key or fake.secret_key, "1400006666", "思域商城", endpoint=fake.url
    )


def test_send_reaches_the_provider_signed(fake_tencent: FakeTencentSms, frozen_clock: FrozenClock) -> None:
    frozen_clock.current = datetime(2026, 3, 8, 16, 30, tzinfo=UTC)
    params = {str(n): f"v{n}" for n in range(1, 11)}
    result = channel(fake_tencent).send(
        message(recipient="139 1234 5678", template_id="449739", params=params)
    )
    assert result.status is SendStatus.SENT and result.provider_message_id == "2028:1"
    (sent,) = fake_tencent.requests
    assert sent["body"] == {
        "PhoneNumberSet": ["+8613912345678"],
        "SmsSdkAppId": "1400006666",
        "SignName": "思域商城",
        "TemplateId": "449739",
        "TemplateParamSet": [f"v{n}" for n in range(1, 11)],  # 10 after 9, not after 1
        "SessionContext": "journey-1:step-2:customer-7",
    }
    headers = sent["headers"]
    assert headers["X-TC-Action"] == "SendSms" and headers["X-TC-Version"] == "2021-01-11"
    assert headers["X-TC-Region"] == "ap-guangzhou" and headers["X-TC-Timestamp"] == "1772987400"


def test_wrong_key_is_refused_by_the_provider(fake_tencent: FakeTencentSms) -> None:
    result = channel(fake_tencent, key="wrong").send(message(template_id="1"))
    assert (
        result.status is SendStatus.FAILED_PERMANENT and result.error_code == "AuthFailure.SignatureFailure"
    )


@pytest.mark.parametrize(
    ("scripted", "status", "wait"),
    [
        ("LimitExceeded.PhoneNumberDailyLimit", SendStatus.FAILED_RETRYABLE, 86400.0),
        ("LimitExceeded.PhoneNumberThirtySecondLimit", SendStatus.FAILED_RETRYABLE, 30.0),
        ("LimitExceeded.AppGlobalDailyLimit", SendStatus.FAILED_RETRYABLE, 60.0),
        (("error", "RequestLimitExceeded"), SendStatus.FAILED_RETRYABLE, 1.0),
        (("error", "InternalError.Timeout"), SendStatus.FAILED_RETRYABLE, 5.0),
        ("InvalidParameterValue.IncorrectPhoneNumber", SendStatus.FAILED_PERMANENT, None),
        ("FailedOperation.InsufficientBalanceInSmsPackage", SendStatus.FAILED_PERMANENT, None),
        (("error", "FailedOperation.SignatureIncorrectOrUnapproved"), SendStatus.FAILED_PERMANENT, None),
    ],
)
def test_provider_codes_are_mapped(
    fake_tencent: FakeTencentSms, scripted: str | tuple[str, str], status: SendStatus, wait: float | None
) -> None:
    fake_tencent.fail_next(scripted)
    result = channel(fake_tencent).send(message(template_id="1"))
    code = scripted[1] if isinstance(scripted, tuple) else scripted
    assert (result.status, result.error_code, result.retry_after_s) == (status, code, wait)


def test_parameters_must_be_numbered(fake_tencent: FakeTencentSms) -> None:
    ch = channel(fake_tencent)
    assert "numbered" in (ch.send(message(template_id="1", params={"code": "1"})).error_message or "")
    assert "gaps" in (ch.send(message(template_id="1", params={"1": "a", "3": "b"})).error_message or "")
    assert fake_tencent.requests == []
