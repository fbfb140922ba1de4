"""The `wecom` channel: 1:1 mass send (`add_msg_template`), group mass send, and welcome messages.

A mass send only reaches the customer after the staff member confirms it in WeCom, so its result is
`queued_for_confirmation` with the msgid; `confirmed()` and `confirmation()` read the send state back
(siyu.messaging.confirmations polls them). Messages that share sender and content are sent in one call
(≤ 10,000 customers each), as WeCom intends.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings, get_settings
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError
from siyu.wecom.external_contact import ExternalContactAPI, GroupMsgSendResult

from .base import OutboundMessage, SendResult, require_settings

# get_groupmsg_send_result status -> what it means for one customer
SEND_STATES = {0: "awaiting_confirmation", 1: "sent", 2: "not_a_friend", 3: "already_received_mass_message"}


def result_for(exc: WeComError) -> SendResult:
    if exc.retryable:
        return SendResult.retryable(exc.code, exc.errmsg, exc.retry_after_s)
    return SendResult.permanent(exc.code, exc.errmsg)


class WeComChannel:
    name = "wecom"

    def __init__(self, api: ExternalContactAPI) -> None:
        self.api = api

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> WeComChannel:
        s = settings or get_settings()
        require_settings(cls.name, wecom_corp_id=s.wecom_corp_id, wecom_secret=s.wecom_secret)
        return cls(ExternalContactAPI(WeComClient.from_settings(s, **kwargs)))

    def close(self) -> None:
        self.api.client.close()

    def send(self, message: OutboundMessage) -> SendResult:
        return self.send_batch([message])[0]

    def send_batch(self, messages: Sequence[OutboundMessage]) -> list[SendResult]:
        results: dict[int, SendResult] = {}
        first_by_key: dict[str, int] = {}
        mass: dict[tuple[str, str], list[int]] = {}
        for i, message in enumerate(messages):
            if message.idempotency_key in first_by_key:
                continue  # answered with the first one's result below
            first_by_key[message.idempotency_key] = i
            if "welcome_code" in message.params:
                results[i] = self._welcome(message)
            elif message.params.get("chat_type") == "group":
                results[i] = self._group(message)
            elif not message.sender_userid:
                results[i] = SendResult.permanent("no_sender", "a WeCom mass send needs sender_userid")
            elif not message.body and not message.attachments:
                results[i] = SendResult.permanent("empty_message", "no text and no attachments")
            else:
                content = json.dumps([message.body, message.attachments], sort_keys=True, ensure_ascii=False)
                mass.setdefault((message.sender_userid, content), []).append(i)
        for (sender, _content), indexes in mass.items():
            results.update(self._mass_send(sender, [messages[i] for i in indexes], indexes))
        return [results[first_by_key[m.idempotency_key]] for m in messages]

    def confirmation(self, msgid: str, sender: str) -> list[GroupMsgSendResult]:
        """Per customer (or group) of a mass send: status 0 awaiting, 1 sent, 2 not a friend, 3 limit."""
        return self.api.get_groupmsg_send_result(msgid, sender)

    def confirmed(self, msgid: str, sender: str) -> bool:
        """Has `sender` confirmed (sent) the mass send `msgid` in the WeCom app? (`get_groupmsg_task`)"""
        return any(t.userid == sender and t.status == 2 for t in self.api.get_groupmsg_task(msgid))

    def _mass_send(
        self, sender: str, messages: list[OutboundMessage], indexes: list[int]
    ) -> dict[int, SendResult]:
        first = messages[0]
        try:
            sends = self.api.add_msg_template(
                sender,
                [m.recipient for m in messages],
                text=first.body or None,
                attachments=first.attachments,
            )
        except WeComError as exc:
            return dict.fromkeys(indexes, result_for(exc))
        except ValidationFailed as exc:
            return dict.fromkeys(indexes, SendResult.permanent("invalid_message", exc.message))
        msgid_of: dict[str, str] = {}
        refused: set[str] = set()
        for send in sends:
            msgid_of.update(dict.fromkeys(send.external_userids, send.msgid))
            refused.update(send.fail_list)
        results = {}
        for i, message in zip(indexes, messages, strict=True):
            if message.recipient in refused:
                results[i] = SendResult.permanent(
                    "fail_list", "WeCom refused this customer (not a customer of the sender, or unreachable)"
                )
            else:
                results[i] = SendResult.queued(msgid_of[message.recipient])
        return results

    def _group(self, message: OutboundMessage) -> SendResult:
        if not message.sender_userid:
            return SendResult.permanent("no_sender", "a WeCom group mass send needs sender_userid")
        try:
            send = self.api.add_group_msg_template(
                message.sender_userid,
                text=message.body or None,
                attachments=message.attachments,
                chat_ids=[message.recipient] if message.recipient != "*" else [],
            )
        except WeComError as exc:
            return result_for(exc)
        except ValidationFailed as exc:
            return SendResult.permanent("invalid_message", exc.message)
        if message.recipient in send.fail_list:
            return SendResult.permanent("fail_list", "WeCom refused this group")
        return SendResult.queued(send.msgid)

    def _welcome(self, message: OutboundMessage) -> SendResult:
        try:
            fresh = self.api.send_welcome_msg(
                message.params["welcome_code"], text=message.body or None, attachments=message.attachments
            )
        except WeComError as exc:
            return result_for(exc)
        except ValidationFailed as exc:
            return SendResult.permanent("invalid_message", exc.message)
        return SendResult.sent(note=None if fresh else "welcome message had already been sent (41051)")
