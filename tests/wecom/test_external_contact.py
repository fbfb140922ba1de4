"""Customer-contact calls against the fake WeCom server: splitting, welcome once, live codes, tags,
transfers and their status, groups, mass-send confirmation state."""

from __future__ import annotations

import pytest

from siyu.core.errors import ValidationFailed
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError
from siyu.wecom.external_contact import ExternalContactAPI
from tests.fixtures.fake_providers import FakeWeCom


@pytest.fixture
def api(client: WeComClient) -> ExternalContactAPI:
    return ExternalContactAPI(client)


def test_mass_send_splits_over_10000_recipients(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    ids = [f"wm{i:06d}" for i in range(25_001)]
    fake_wecom.strangers = {"wm000003", "wm024000"}
    sends = api.add_msg_template("zhangsan", [*ids, "wm000001"], text="回归礼包")
    calls = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert [len(c["external_userid"]) for c in calls] == [10_000, 10_000, 5_001]  # the duplicate is dropped
    assert all(c["chat_type"] == "single" and c["sender"] == "zhangsan" for c in calls)
    assert calls[0]["text"] == {"content": "回归礼包"}
    assert [s.fail_list for s in sends] == [("wm000003",), (), ("wm024000",)]
    assert len({s.msgid for s in sends}) == 3


def test_mass_send_needs_a_sender_and_content(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    with pytest.raises(ValidationFailed, match="sending staff"):
        api.add_msg_template("", ["wm1"], text="hi")
    with pytest.raises(ValidationFailed, match="text or attachments"):
        api.add_msg_template("zhangsan", ["wm1"])
    assert fake_wecom.calls == []


def test_confirmation_state_is_tracked(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    fake_wecom.strangers = {"wm2"}
    ids = ["wm1", "wm2", *[f"x{i}" for i in range(2_100)]]
    (send,) = api.add_msg_template("zhangsan", ids, text="hi")
    assert [t.status for t in api.get_groupmsg_task(send.msgid)] == [0]
    before = api.get_groupmsg_send_result(send.msgid, "zhangsan")
    assert len(before) == len(ids)  # three pages of at most 1000
    assert len(fake_wecom.calls_to("externalcontact/get_groupmsg_send_result")) == 3
    assert {r.external_userid: r.status for r in before}["wm1"] == 0
    fake_wecom.confirm(send.msgid)
    assert [t.status for t in api.get_groupmsg_task(send.msgid)] == [2]
    after = {r.external_userid: r.status for r in api.get_groupmsg_send_result(send.msgid, "zhangsan")}
    assert after["wm1"] == 1 and after["wm2"] == 2


def test_group_mass_send(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    send = api.add_group_msg_template("zhangsan", text="群公告", chat_ids=["wr1"])
    (call,) = fake_wecom.calls_to("externalcontact/add_msg_template")
    assert call["chat_type"] == "group" and call["chat_id_list"] == ["wr1"] and send.msgid


def test_welcome_message_is_sent_once(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    attachments = [{"msgtype": "link", "link": {"title": "新人礼", "url": "https://example.com/g"}}]
    assert api.send_welcome_msg("WELCOME1", text="欢迎", attachments=attachments) is True
    assert api.send_welcome_msg("WELCOME1", text="欢迎") is False  # 41051: already sent, done
    first = fake_wecom.calls_to("externalcontact/send_welcome_msg")[0]
    assert first == {"welcome_code": "WELCOME1", "text": {"content": "欢迎"}, "attachments": attachments}


def test_welcome_message_other_errors_raise(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    fake_wecom.fail_next(45009)
    with pytest.raises(WeComError, match="45009"):
        api.send_welcome_msg("W2", text="hi")


def test_live_code(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    way = api.add_contact_way(type=2, scene=2, users=["zhangsan", "lisi"], state="store_hz_01")
    assert way.config_id.startswith("cfg") and way.qr_code
    (body,) = fake_wecom.calls_to("externalcontact/add_contact_way")
    assert body == {
        "type": 2,
        "scene": 2,
        "user": ["zhangsan", "lisi"],
        "skip_verify": True,
        "state": "store_hz_01",
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"type": 1, "scene": 2, "users": ["a"], "state": "x" * 31}, "30 characters"),
        ({"type": 1, "scene": 2, "users": ["a", "b"]}, "exactly one user"),
        ({"type": 2, "scene": 2, "users": []}, "at least one"),
        ({"type": 3, "scene": 2, "users": ["a"]}, "1 or 2"),
    ],
)
def test_live_code_is_checked_before_calling(
    api: ExternalContactAPI, fake_wecom: FakeWeCom, kwargs: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationFailed, match=message):
        api.add_contact_way(**kwargs)  # type: ignore[arg-type]
    assert fake_wecom.calls == []


def test_corp_tags(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    groups = api.get_corp_tag_list()
    assert groups[0]["tag"][0]["name"] == "高价值"
    api.client.agent_id = 1000014
    group = api.add_corp_tag(group_name="生命周期", tags=["沉睡", "流失"])
    assert [t["name"] for t in group["tag"]] == ["沉睡", "流失"]
    assert fake_wecom.calls_to("externalcontact/add_corp_tag")[0]["agentid"] == 1000014
    api.mark_tag("zhangsan", "wm1", add=["et1"], remove=["et2"])
    assert fake_wecom.calls_to("externalcontact/mark_tag") == [
        {"userid": "zhangsan", "external_userid": "wm1", "add_tag": ["et1"], "remove_tag": ["et2"]}
    ]
    with pytest.raises(ValidationFailed):
        api.mark_tag("zhangsan", "wm1")


@pytest.mark.parametrize("resigned", [False, True])
def test_transfer_splits_by_100_and_reports_status(
    api: ExternalContactAPI, fake_wecom: FakeWeCom, resigned: bool
) -> None:
    ids = [f"wm{i}" for i in range(250)]
    outcomes = api.transfer_customer("zhangsan", "lisi", ids, resigned=resigned, message="您好，我是新顾问")
    api_name = "externalcontact/" + ("resigned/transfer_customer" if resigned else "transfer_customer")
    calls = fake_wecom.calls_to(api_name)
    assert [len(c["external_userid"]) for c in calls] == [100, 100, 50]
    assert ("transfer_success_msg" in calls[0]) is not resigned
    assert len(outcomes) == 250 and all(o.errcode == 0 for o in outcomes)
    statuses = api.transfer_result("zhangsan", "lisi", resigned=resigned)
    assert {s.status for s in statuses} == {2}  # waiting: takeover completes after 24 h
    fake_wecom.transfers["wm0"]["status"] = 1
    fake_wecom.transfers["wm1"]["status"] = 3
    done = {s.external_userid: s.status for s in api.transfer_result("zhangsan", "lisi", resigned=resigned)}
    assert done["wm0"] == 1 and done["wm1"] == 3 and done["wm2"] == 2


def test_group_chats_follow_the_cursor(api: ExternalContactAPI, fake_wecom: FakeWeCom) -> None:
    chats = api.groupchat_list(owners=["zhangsan"])
    assert [c["chat_id"] for c in chats] == ["wr1", "wr2"]
    first, second = fake_wecom.calls_to("externalcontact/groupchat/list")
    assert first["owner_filter"] == {"userid_list": ["zhangsan"]} and "cursor" not in first
    assert second["cursor"] == "page2"
    assert api.groupchat_get("wr1")["name"] == "会员群"
