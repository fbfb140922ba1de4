"""WeCom customer-contact (客户联系) calls: mass send and its confirmation state, welcome messages, live
codes, corp tags, customer transfer, customer groups. Lists over WeCom's limits are split here.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from siyu.core.errors import ValidationFailed

from .client import WeComClient
from .errors import MASS_SEND_MAX_RECIPIENTS, TRANSFER_MAX_CUSTOMERS, WELCOME_ALREADY_SENT, WeComError

T = TypeVar("T")
EC = "externalcontact/"


@dataclass(frozen=True)
class MassSend:
    """One `add_msg_template` call: its msgid and the external ids WeCom refused."""

    msgid: str
    external_userids: tuple[str, ...]
    fail_list: tuple[str, ...]


@dataclass(frozen=True)
class GroupMsgTask:
    """`get_groupmsg_task`: has this staff member confirmed the mass send? status 0 no, 2 sent."""

    userid: str
    status: int
    send_time: int | None


@dataclass(frozen=True)
class GroupMsgSendResult:
    """`get_groupmsg_send_result`: 0 not sent, 1 sent, 2 not a friend, 3 already got a mass message."""

    external_userid: str | None
    chat_id: str | None
    userid: str
    status: int
    send_time: int | None


@dataclass(frozen=True)
class ContactWay:
    config_id: str
    qr_code: str | None


@dataclass(frozen=True)
class TransferOutcome:
    external_userid: str
    errcode: int


@dataclass(frozen=True)
class TransferStatus:
    """`transfer_result`: 1 done, 2 waiting for takeover, 3 refused by the customer, 4 takeover's limit."""

    external_userid: str
    status: int
    takeover_time: int | None


def chunked(items: Sequence[T], size: int) -> Iterator[list[T]]:
    for start in range(0, len(items), size):
        yield list(items[start : start + size])


class ExternalContactAPI:
    def __init__(self, client: WeComClient) -> None:
        self.client = client

    # --- mass send (群发) -------------------------------------------------------------------------
    def add_msg_template(
        self,
        sender: str,
        external_userids: Sequence[str],
        *,
        text: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
    ) -> list[MassSend]:
        """1:1 mass send from `sender` (who confirms it in the app); one call per 10,000 customers."""
        if not sender:
            raise ValidationFailed("a mass send needs the sending staff member's userid", field="sender")
        ids = list(dict.fromkeys(external_userids))  # WeCom would count a duplicate twice
        sends = []
        for chunk in chunked(ids, MASS_SEND_MAX_RECIPIENTS):
            body: dict[str, Any] = {"chat_type": "single", "external_userid": chunk, "sender": sender}
            body.update(_content(text, attachments))
            data = self.client.call(EC + "add_msg_template", body)
            sends.append(
                MassSend(str(data.get("msgid", "")), tuple(chunk), tuple(data.get("fail_list") or ()))
            )
        return sends

    def add_group_msg_template(
        self,
        sender: str,
        *,
        text: str | None = None,
        attachments: Sequence[Mapping[str, Any]] = (),
        chat_ids: Sequence[str] = (),
    ) -> MassSend:
        """Mass send to `sender`'s customer groups (all of them, or `chat_ids`)."""
        if not sender:
            raise ValidationFailed("a group mass send needs the sending staff member", field="sender")
        body: dict[str, Any] = {"chat_type": "group", "sender": sender, **_content(text, attachments)}
        if chat_ids:
            body["chat_id_list"] = list(chat_ids)
        data = self.client.call(EC + "add_msg_template", body)
        return MassSend(str(data.get("msgid", "")), tuple(chat_ids), tuple(data.get("fail_list") or ()))

    def get_groupmsg_task(self, msgid: str) -> list[GroupMsgTask]:
        rows = self._pages("get_groupmsg_task", {"msgid": msgid, "limit": 1000}, "task_list")
        return [GroupMsgTask(r["userid"], int(r.get("status", 0)), r.get("send_time")) for r in rows]

    def get_groupmsg_send_result(self, msgid: str, userid: str) -> list[GroupMsgSendResult]:
        body = {"msgid": msgid, "userid": userid, "limit": 1000}
        return [
            GroupMsgSendResult(
                r.get("external_userid"),
                r.get("chat_id"),
                r["userid"],
                int(r.get("status", 0)),
                r.get("send_time"),
            )
            for r in self._pages("get_groupmsg_send_result", body, "send_list")
        ]

    # --- welcome message and live codes -----------------------------------------------------------
    def send_welcome_msg(
        self, welcome_code: str, *, text: str | None = None, attachments: Sequence[Mapping[str, Any]] = ()
    ) -> bool:
        """True if sent now, False if it had been sent already (41051): either way it is done."""
        try:
            self.client.call(
                EC + "send_welcome_msg", {"welcome_code": welcome_code, **_content(text, attachments)}
            )
        except WeComError as exc:
            if exc.errcode == WELCOME_ALREADY_SENT:
                return False
            raise
        return True

    def add_contact_way(
        self,
        *,
        type: Literal[1, 2],
        scene: Literal[1, 2],
        users: Sequence[str],
        state: str | None = None,
        skip_verify: bool = True,
        remark: str | None = None,
        extra: Mapping[str, Any] | None = None,
    ) -> ContactWay:
        """A live code (联系我): type 1 one staff member, 2 several; scene 1 mini program, 2 QR code."""
        if type not in (1, 2) or scene not in (1, 2):
            raise ValidationFailed("type and scene must be 1 or 2", field="type")
        if not users or (type == 1 and len(users) != 1):
            raise ValidationFailed("type 1 takes exactly one user, type 2 at least one", field="user")
        if state is not None and len(state) > 30:
            raise ValidationFailed("state is at most 30 characters", field="state")
        body: dict[str, Any] = {"type": type, "scene": scene, "user": list(users), "skip_verify": skip_verify}
        if state:
            body["state"] = state
        if remark:
            body["remark"] = remark
        body.update(extra or {})
        data = self.client.call(EC + "add_contact_way", body)
        return ContactWay(str(data["config_id"]), data.get("qr_code"))

    # --- corp tags ----------------------------------------------------------------------------------
    def get_corp_tag_list(
        self, *, tag_ids: Sequence[str] = (), group_ids: Sequence[str] = ()
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {}
        if tag_ids:
            body["tag_id"] = list(tag_ids)
        if group_ids:
            body["group_id"] = list(group_ids)
        return list(self.client.call(EC + "get_corp_tag_list", body).get("tag_group") or [])

    def add_corp_tag(
        self, *, tags: Sequence[str], group_name: str | None = None, group_id: str | None = None
    ) -> dict[str, Any]:
        if not tags or not (group_name or group_id):
            raise ValidationFailed("add_corp_tag needs tags and a group name or id", field="tag")
        body: dict[str, Any] = {"tag": [{"name": name} for name in tags]}
        if group_id:
            body["group_id"] = group_id
        if group_name:
            body["group_name"] = group_name
        if self.client.agent_id is not None:
            body["agentid"] = self.client.agent_id
        return dict(self.client.call(EC + "add_corp_tag", body).get("tag_group") or {})

    def mark_tag(
        self, userid: str, external_userid: str, *, add: Sequence[str] = (), remove: Sequence[str] = ()
    ) -> None:
        if not add and not remove:
            raise ValidationFailed("mark_tag needs tags to add or remove", field="tag")
        body = {
            "userid": userid,
            "external_userid": external_userid,
            "add_tag": list(add),
            "remove_tag": list(remove),
        }
        self.client.call(EC + "mark_tag", body)

    # --- customer transfer (在职/离职继承) ------------------------------------------------------------
    def transfer_customer(
        self,
        handover: str,
        takeover: str,
        external_userids: Sequence[str],
        *,
        resigned: bool = False,
        message: str | None = None,
    ) -> list[TransferOutcome]:
        """Move customers to `takeover`, 100 per call; takeover completes after 24 h (see transfer_result)."""
        api = EC + ("resigned/transfer_customer" if resigned else "transfer_customer")
        outcomes = []
        for chunk in chunked(list(dict.fromkeys(external_userids)), TRANSFER_MAX_CUSTOMERS):
            body: dict[str, Any] = {
                "handover_userid": handover,
                "takeover_userid": takeover,
                "external_userid": chunk,
            }
            if message and not resigned:
                body["transfer_success_msg"] = message
            data = self.client.call(api, body)
            outcomes += [
                TransferOutcome(c["external_userid"], int(c.get("errcode", 0)))
                for c in data.get("customer") or []
            ]
        return outcomes

    def transfer_result(
        self, handover: str, takeover: str, *, resigned: bool = False
    ) -> list[TransferStatus]:
        api = "resigned/transfer_result" if resigned else "transfer_result"
        rows = self._pages(api, {"handover_userid": handover, "takeover_userid": takeover}, "customer")
        return [TransferStatus(r["external_userid"], int(r["status"]), r.get("takeover_time")) for r in rows]

    # --- customer groups ----------------------------------------------------------------------------
    def groupchat_list(self, *, owners: Sequence[str] = (), status_filter: int = 0) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"status_filter": status_filter, "limit": 1000}
        if owners:
            body["owner_filter"] = {"userid_list": list(owners)}
        return self._pages("groupchat/list", body, "group_chat_list")

    def groupchat_get(self, chat_id: str, *, need_name: bool = True) -> dict[str, Any]:
        data = self.client.call(EC + "groupchat/get", {"chat_id": chat_id, "need_name": int(need_name)})
        return dict(data.get("group_chat") or {})

    def _pages(self, api: str, body: Mapping[str, Any], key: str) -> list[dict[str, Any]]:
        rows: list[dict[str, Any]] = []
        cursor = ""
        while True:
            data = self.client.call(EC + api, {**body, "cursor": cursor} if cursor else dict(body))
            rows += list(data.get(key) or [])
            cursor = str(data.get("next_cursor") or "")
            if not cursor:
                return rows


def _content(text: str | None, attachments: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    if not text and not attachments:
        raise ValidationFailed("a WeCom message needs text or attachments", field="body")
    content: dict[str, Any] = {}
    if text:
        content["text"] = {"content": text}
    if attachments:
        content["attachments"] = [dict(a) for a in attachments]
    return content
