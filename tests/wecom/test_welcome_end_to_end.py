"""The closed loop from WeCom's side, end to end on a frozen clock (SQLite and PostgreSQL): a customer adds
a staff member → WeCom's callback over real HTTP → `Contact Added` with the WelcomeCode → the welcome
playbook → `send_welcome_msg` on the fake WeCom server; the next morning's guide goes out as a mass send
from the staff member the callback made owner, and the confirmation job records its delivery."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from sqlalchemy import select

from siyu.channels import registry
from siyu.journeys import playbooks, service
from siyu.journeys.tables import JourneyRun
from siyu.messaging.confirmations import run_confirmations
from tests.fixtures.live_server import LiveServer
from tests.journeys.runner_world import World, events, shanghai

from .callbacks import event_xml, signed, wecom_callback_settings
from .fakes import ScriptedWeCom, channel_for, scripted_wecom

__all__ = ["scripted_wecom", "wecom_callback_settings"]


@pytest.fixture
def world(db_url: str, frozen_clock: Any, scripted_wecom: ScriptedWeCom, wecom_callback_settings: Any) -> Any:
    frozen_clock.current = shanghai(2026, 11, 2, 15, 20)
    w = World(db_url, frozen_clock)
    registry.install(channel_for(scripted_wecom), as_name="wecom")
    w.template("welcome_coupon", "wecom", "欢迎加入!新人券 {{ coupon.code }}")
    w.template("style_guide", "wecom", "本周穿搭指南 https://shop.example/guide")
    yield w
    registry.reset()


def test_callback_to_welcome_message_to_confirmed_guide(
    world: World, scripted_wecom: ScriptedWeCom, live_server: LiveServer
) -> None:
    w, fake = world, scripted_wecom
    jid = w.journey(playbooks.welcome_new_friend(new_customer_tag_id=w.tag("新客")))
    query, body = signed(event_xml("add_external_contact", "wmNEW", State="store-1", WelcomeCode="WC-9"))
    with httpx.Client(base_url=live_server.url, timeout=10) as http:
        for _retry in range(2):
            answer = http.post("/wecom/callback", params=query, content=body)
            assert answer.status_code == 200 and answer.text == "success"
        w.drive()
        (welcome,) = fake.calls_to("externalcontact/send_welcome_msg")
        assert welcome["welcome_code"] == "WC-9"
        assert welcome["text"]["content"].startswith("欢迎加入!新人券 WELCOME-")
        assert fake.used_welcome_codes == {"WC-9"}
        http.post("/wecom/callback", params=query, content=body)  # a late retry changes nothing
        w.drive()
    assert len(fake.calls_to("externalcontact/send_welcome_msg")) == 1
    (run,) = _runs(w, jid)
    (added,) = events(w, "Contact Added")
    assert run.customer_id == added["customer_id"] and added["state"] == "store-1"
    (welcome_row,) = w.outbox(node_id="welcome")
    assert welcome_row.status == "sent" and welcome_row.customer_id == run.customer_id

    w.advance(hours=19)  # 10:20 the next day: the guide, as a mass send by the owner the callback set
    (guide,) = fake.calls_to("externalcontact/add_msg_template")
    assert guide["sender"] == "zhangsan" and guide["external_userid"] == ["wmNEW"]
    (guide_row,) = w.outbox(node_id="guide")
    assert guide_row.status == "queued_for_confirmation" and guide_row.provider_id
    fake.confirm(guide_row.provider_id)
    assert run_confirmations(w.factory, w.now) == 1
    (guide_row,) = w.outbox(node_id="guide")
    assert guide_row.status == "sent"
    (delivered,) = events(w, "Message Delivered", run.customer_id)
    assert delivered["node_id"] == "guide" and delivered["journey_id"] == str(jid)
    with w.session() as s:
        counts = service.stats(s, jid)["versions"]["1"]
    assert counts["welcome"]["all"]["sent"] == 1
    assert counts["guide"]["all"]["sent"] == 1 and counts["guide"]["all"]["delivered"] == 1


def _runs(w: World, journey_id: int) -> list[JourneyRun]:
    with w.session() as s:
        return list(s.scalars(select(JourneyRun).where(JourneyRun.journey_id == journey_id)))
