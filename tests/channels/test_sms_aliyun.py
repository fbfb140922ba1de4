"""Aliyun SendSms: the documented signing example, then the channel against the fake dysmsapi."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.channels.base import SendStatus
from siyu.channels.sms_aliyun import AliyunSmsChannel, percent_encode, pop_signature, string_to_sign
from siyu.core.errors import ValidationFailed
from tests.conftest import FrozenClock
from tests.fixtures.fake_providers import FakeAliyunSms

from .conftest import message

# Aliyun SMS documentation, "签名机制" worked example (SendSms, AccessKeyId testId, secret testSecret).
DOC_PARAMS = {
    "AccessKeyId": "testId",
    "Action": "SendSms",
    "Format": "XML",
    "OutId": "123",
    "PhoneNumbers": "15300000001",
    "RegionId": "cn-hangzhou",
    "SignName": "阿里云短信测试专用",
    "SignatureMethod": "HMAC-SHA1",
    "SignatureNonce": "45e25e9b-0a6f-4070-8c85-2956eda1b466",
    "SignatureVersion": "1.0",
    "TemplateCode": "SMS_71390007",
    "TemplateParam": '{"customer":"test"}',
    "Timestamp": "2017-07-12T02:42:19Z",
    "Version": "2017-05-25",
}
DOC_STRING_TO_SIGN = (
    "GET&%2F&AccessKeyId%3DtestId%26Action%3DSendSms%26Format%3DXML%26OutId%3D123%26PhoneNumbers%3D15300000001"
    "%26RegionId%3Dcn-hangzhou%26SignName%3D%25E9%2598%25BF%25E9%2587%258C%25E4%25BA%2591%25E7%259F%25AD"
    "%25E4%25BF%25A1%25E6%25B5%258B%25E8%25AF%2595%25E4%25B8%2593%25E7%2594%25A8%26SignatureMethod%3DHMAC-SHA1"
    "%26SignatureNonce%3D45e25e9b-0a6f-4070-8c85-2956eda1b466%26SignatureVersion%3D1.0%26TemplateCode%3DSMS_71390007"
    "%26TemplateParam%3D%257B%2522customer%2522%253A%2522test%2522%257D%26Timestamp%3D2017-07-12T02%253A42%253A19Z"
    "%26Version%3D2017-05-25"
)


def test_documented_sendsms_signature() -> None:
    assert string_to_sign("GET", DOC_PARAMS) == DOC_STRING_TO_SIGN
    assert pop_signature("GET", DOC_PARAMS, "testSecret") == "zJDF+Lrzhj/ThnlvIToysFRq6t4="


def test_documented_describe_regions_signature() -> None:
    # Aliyun's general RPC signing example (ECS DescribeRegions, testid / testsecret).
    params = {
        "TimeStamp": "2016-02-23T12:46:24Z",
        "Format": "XML",
        "AccessKeyId": "testid",
        "Action": "DescribeRegions",
        "SignatureMethod": "HMAC-SHA1",
        "SignatureNonce": "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf",
        "Version": "2014-05-26",
        "SignatureVersion": "1.0",
    }
    assert pop_signature("GET", params, "testsecret") == "CT9X0VtwR86fNWSnsc6v8YGOjuE="


def test_rfc3986_encoding() -> None:
    assert percent_encode("a b*c~d+e/f") == "a%20b%2Ac~d%2Be%2Ff"
    assert percent_encode("短信") == "%E7%9F%AD%E4%BF%A1"


def channel(fake: FakeAliyunSms, secret: str | None = None) -> AliyunSmsChannel:
    return AliyunSmsChannel(fake.access_key_id, secret or fake.secret, "思域商城", endpoint=fake.url)


def test_send_reaches_the_provider_signed(fake_aliyun: FakeAliyunSms, frozen_clock: FrozenClock) -> None:
    frozen_clock.current = datetime(2026, 3, 8, 1, 2, 3, tzinfo=UTC)
    result = channel(fake_aliyun).send(
        message(
            recipient="+86 139 1234 5678", template_id="SMS_1001", params={"code": "4321", "name": "张三"}
        )
    )
    assert result.status is SendStatus.SENT and result.provider_message_id == "biz1"
    (sent,) = fake_aliyun.requests
    assert sent["PhoneNumbers"] == "8613912345678"
    assert sent["TemplateParam"] == '{"code":"4321","name":"张三"}'
    assert sent["OutId"] == "journey-1:step-2:customer-7"
    assert sent["SignName"] == "思域商城" and sent["Timestamp"] == "2026-03-08T01:02:03Z"


def test_each_request_has_a_fresh_nonce(fake_aliyun: FakeAliyunSms) -> None:
    ch = channel(fake_aliyun)
    for i in range(3):
        assert ch.send(message(template_id="SMS_1", idempotency_key=f"k{i}")).ok
    assert len({r["SignatureNonce"] for r in fake_aliyun.requests}) == 3


def test_wrong_secret_is_refused_by_the_provider(fake_aliyun: FakeAliyunSms) -> None:
    result = channel(fake_aliyun, secret="wrong").send(message(template_id="SMS_1"))
    assert result.status is SendStatus.FAILED_PERMANENT and result.error_code == "SignatureDoesNotMatch"


@pytest.mark.parametrize(
    ("code", "status", "wait"),
    [
        ("isv.BUSINESS_LIMIT_CONTROL", SendStatus.FAILED_RETRYABLE, 60.0),
        ("isv.DAY_LIMIT_CONTROL", SendStatus.FAILED_RETRYABLE, 3600.0),
        ("isp.SYSTEM_ERROR", SendStatus.FAILED_RETRYABLE, 5.0),
        ("Throttling.User", SendStatus.FAILED_RETRYABLE, 5.0),
        ("isv.MOBILE_NUMBER_ILLEGAL", SendStatus.FAILED_PERMANENT, None),
        ("isv.AMOUNT_NOT_ENOUGH", SendStatus.FAILED_PERMANENT, None),
        ("isv.TEMPLATE_MISSING_PARAMETERS", SendStatus.FAILED_PERMANENT, None),
    ],
)
def test_provider_codes_are_mapped(
    fake_aliyun: FakeAliyunSms, code: str, status: SendStatus, wait: float | None
) -> None:
    fake_aliyun.fail_next(code)
    result = channel(fake_aliyun).send(message(template_id="SMS_1"))
    assert (result.status, result.error_code, result.retry_after_s) == (status, code, wait)


def test_bad_input_fails_before_calling(fake_aliyun: FakeAliyunSms) -> None:
    ch = channel(fake_aliyun)
    assert ch.send(message(template_id="SMS_1", recipient="not a phone")).error_code == "invalid_message"
    assert "TemplateCode" in (ch.send(message()).error_message or "")
    assert fake_aliyun.requests == []


def test_unreachable_provider_is_retryable() -> None:
    from siyu.devtools.pg_server import free_port

    ch = AliyunSmsChannel("id", "secret", "签名", endpoint=f"http://127.0.0.1:{free_port()}/")
    result = ch.send(message(template_id="SMS_1"))
    assert result.status is SendStatus.FAILED_RETRYABLE and result.error_code == "transport"


def test_not_configured_names_the_settings() -> None:
    with pytest.raises(
        ValidationFailed, match="SIYU_ALIYUN_SMS_ACCESS_KEY_ID, SIYU_ALIYUN_SMS_ACCESS_KEY_SECRET"
    ):
        AliyunSmsChannel("", "", "")
