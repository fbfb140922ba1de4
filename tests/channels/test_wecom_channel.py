"""The `wecom` channel against the fake WeCom server: batching, confirmation state, welcome, errors."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from siyu.channels import registry
from siyu.channels.base import BatchChannel, OutboundMessage, SendStatus, send_all
from siyu.channels.wecom import WeComChannel
from siyu.core.errors import ValidationFailed
from siyu.wecom.client import WeComClient
from siyu.wecom.external_contact import ExternalContactAPI
from siyu.wecom.token import TokenCache
from tests.fixtures.fake_providers import FakeWeCom

from .conftest import Env, message


@pytest.fixture
def wecom(fake_wecom: FakeWeCom) -> Iterator[WeComChannel]:
    client = WeComClient(
        fake_wecom.corp_id,
        fake_wecom.secret,
        base_url=fake_wecom.base,
        tokens=TokenCache(),
        sleep=lambda s: None,
    )
    channel = WeComChannel(ExternalContactAPI(client))
    yield channel
    channel.close()


def mass(
    recipient: str, key: str, body: str = "回归礼包已到账", sender: str | None = "zhangsan"
) -> OutboundMessage:
    return message(channel="wecom", recipient=recipient, idempotency_key=key, body=body, sender_userid=sender)


def test_same_sender_and_content_go_out_in_one_call(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    fake_wecom.strangers = {"wm-gone"}
    messages = [mass("wm1", "k1"), mass("wm2", "k2"), mass("wm-gone", "k3"), mass("wm4", "k4", body="其他")]
    results = send_all(wecom, messages)
    calls = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert sorted(len(c["external_userid"]) for c in calls) == [1, 3]
    assert [r.status for r in results] == [
        SendStatus.QUEUED_FOR_CONFIRMATION,
        SendStatus.QUEUED_FOR_CONFIRMATION,
        SendStatus.FAILED_PERMANENT,
        SendStatus.QUEUED_FOR_CONFIRMATION,
    ]
    assert results[0].provider_message_id == results[1].provider_message_id != results[3].provider_message_id
    assert results[2].error_code == "fail_list"


def test_more_than_10000_customers_are_split(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    results = wecom.send_batch([mass(f"wm{i}", f"k{i}") for i in range(12_000)])
    calls = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert [len(c["external_userid"]) for c in calls] == [10_000, 2_000]
    assert all(r.status is SendStatus.QUEUED_FOR_CONFIRMATION for r in results)
    assert len({r.provider_message_id for r in results}) == 2


def test_confirmation_is_read_back(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    result = wecom.send(mass("wm1", "k1"))
    msgid = result.provider_message_id
    assert msgid is not None
    assert [r.status for r in wecom.confirmation(msgid, "zhangsan")] == [0]
    fake_wecom.confirm(msgid)
    assert [(r.external_userid, r.status) for r in wecom.confirmation(msgid, "zhangsan")] == [("wm1", 1)]


def test_repeated_idempotency_key_in_a_batch_is_sent_once(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    first, again = wecom.send_batch([mass("wm1", "same"), mass("wm1", "same")])
    assert first == again
    (call,) = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert call["external_userid"] == ["wm1"]


def test_without_sender_or_content_nothing_is_called(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    no_sender, empty = wecom.send_batch([mass("wm1", "a", sender=None), mass("wm2", "b", body="")])
    assert no_sender.error_code == "no_sender" and empty.error_code == "empty_message"
    assert fake_wecom.calls == []


@pytest.mark.parametrize(
    ("errcode", "status", "wait"),
    [(45009, SendStatus.FAILED_RETRYABLE, 60.0), (40003, SendStatus.FAILED_PERMANENT, None)],
)
def test_errcodes_become_results(
    wecom: WeComChannel, fake_wecom: FakeWeCom, errcode: int, status: SendStatus, wait: float | None
) -> None:
    fake_wecom.fail_next(errcode)
    results = wecom.send_batch([mass("wm1", "k1"), mass("wm2", "k2")])
    assert {(r.status, r.error_code, r.retry_after_s) for r in results} == {(status, str(errcode), wait)}


def test_system_busy_is_retried_inside_the_channel(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    fake_wecom.fail_next(-1, -1)
    assert wecom.send(mass("wm1", "k1")).status is SendStatus.QUEUED_FOR_CONFIRMATION


def test_welcome_message_is_idempotent(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    welcome = message(
        channel="wecom", recipient="wm1", idempotency_key="w1", params={"welcome_code": "CODE1"}
    )
    first = wecom.send(welcome)
    again = wecom.send(welcome.model_copy(update={"idempotency_key": "w1-retry"}))
    assert first.status is SendStatus.SENT and first.error_message is None
    assert again.status is SendStatus.SENT and "41051" in (again.error_message or "")
    assert fake_wecom.used_welcome_codes == {"CODE1"}


def test_group_mass_send(wecom: WeComChannel, fake_wecom: FakeWeCom) -> None:
    result = wecom.send(
        message(
            channel="wecom",
            recipient="wr1",
            idempotency_key="g1",
            params={"chat_type": "group"},
            sender_userid="zhangsan",
        )
    )
    assert result.status is SendStatus.QUEUED_FOR_CONFIRMATION
    (call,) = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert call["chat_type"] == "group" and call["chat_id_list"] == ["wr1"]


def test_channel_from_settings_through_the_registry(fake_wecom: FakeWeCom, env: Env) -> None:
    with pytest.raises(ValidationFailed, match="SIYU_WECOM_CORP_ID, SIYU_WECOM_SECRET"):
        registry.get("wecom")
    env(wecom_api_base=fake_wecom.base, wecom_corp_id=fake_wecom.corp_id, wecom_secret=fake_wecom.secret)
    channel = registry.get("wecom")
    assert isinstance(channel, BatchChannel) and registry.get("wecom") is channel
    assert channel.send(mass("wm1", "k1")).ok
