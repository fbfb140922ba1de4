"""A fake WeCom whose mass-send results can be set per customer, and the real `wecom` channel pointed at a
fake and installed in the channel registry."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from siyu.channels import registry
from siyu.channels.wecom import WeComChannel
from siyu.core import clock
from siyu.wecom.client import WeComClient
from siyu.wecom.external_contact import ExternalContactAPI
from siyu.wecom.token import TokenCache
from tests.fixtures.fake_providers import FakeWeCom


class ScriptedWeCom(FakeWeCom):
    """`statuses[external_userid]` overrides a confirmed send's per-customer status (0: the staff member
    left the customer out, 2: not a friend, 3: already got a mass message); confirming records the time."""

    def __init__(self) -> None:
        super().__init__()
        self.statuses: dict[str, int] = {}
        self.confirmed_at: dict[str, int] = {}

    def confirm(self, msgid: str) -> None:
        super().confirm(msgid)
        self.confirmed_at[msgid] = int(clock.now().timestamp())

    def _externalcontact_get_groupmsg_send_result(self, doc: dict[str, Any]) -> dict[str, Any]:
        answer = super()._externalcontact_get_groupmsg_send_result(doc)
        template = self.templates[doc["msgid"]]
        for row in answer["send_list"]:
            if template["confirmed"] and row["external_userid"] in self.statuses:
                row["status"] = self.statuses[row["external_userid"]]
            if row["status"] == 1:
                row["send_time"] = self.confirmed_at.get(doc["msgid"])
        return answer


def channel_for(fake: FakeWeCom) -> WeComChannel:
    client = WeComClient(
        fake.corp_id, fake.secret, base_url=fake.base, tokens=TokenCache(), sleep=lambda _s: None
    )
    return WeComChannel(ExternalContactAPI(client))


@pytest.fixture
def scripted_wecom() -> Iterator[ScriptedWeCom]:
    server = ScriptedWeCom().start()
    yield server
    server.stop()


@pytest.fixture
def wecom_installed(scripted_wecom: ScriptedWeCom) -> Iterator[WeComChannel]:
    """The real WeCom channel, talking to the fake, as registry channel `wecom` (after the test's world
    installed its memory channels: request this fixture after `world`)."""
    channel = channel_for(scripted_wecom)
    registry.install(channel, as_name="wecom")
    yield channel
    registry.reset()
