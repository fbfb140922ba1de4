"""The demo's automation: templates saved through the template service, and five shipped playbooks cloned
as journeys on the `memory` channel (nothing leaves the machine) and activated.
"""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.demo.taxonomy import WELCOMED, WOKEN
from siyu.journeys import service as journeys
from siyu.journeys.tables import Journey
from siyu.messaging import template_store
from siyu.messaging.tables import MessageTemplate

CHANNEL = "memory"
ACTOR = "demo"
DESCRIPTION = (
    "演示品牌：消息发往 memory 渠道，只在本机记录，不对外发送。Demo brand: sent to the memory channel."
)
# Traits used by templates, with the words shown when a customer lacks them (or nobody has them yet: a
# template may only name traits the brand's customers have, so without them the words are written in).
TRAIT_WORDS = {"skin_type": "日常", "member_level": "会员"}


def _trait(name: str) -> str:
    return f"{{{{ customer.traits.{name} | default('{TRAIT_WORDS[name]}', true) }}}}"


SKIN, LEVEL = _trait("skin_type"), _trait("member_level")
NAME = "{{ customer.name | default('亲爱的会员', true) }}"
ADVISOR = "{{ customer.owner.name | default('澜肌顾问', true) }}"
COUPON = "{{ coupon.code }}"
TEMPLATES: dict[str, tuple[str, str]] = {
    "welcome_coupon": ("新客欢迎语 + 新人券",
        f"{NAME}您好，我是{ADVISOR}～谢谢添加！送您新人券 {COUPON}：首单满 199 减 30，7 天内有效。"),
    "style_guide": ("护肤指南",
        f"早上好～按您的{SKIN}肤质整理了护肤顺序："
        "洁面 → 精华 → 面霜，白天记得防晒。有问题随时问我。"),
    "comeback_gift": ("专属回归礼包",
        f"{NAME}，好久不见！{ADVISOR}为您留了回归礼包：满 299 减 60 券 {COUPON}，本周内有效。"),
    "comeback_sms": ("回归礼包短信提醒", f"【澜肌】您的回归礼包 {COUPON} 即将过期，满299减60。回TD退订"),
    "replenish_reminder": ("补货提醒",
        f"{NAME}，您常用的澜肌护肤品差不多该用完啦～现在回购享会员价，需要的话{ADVISOR}帮您下单。"),
    "trial_kit_offer": ("新品试用装",
        f"送您一份玻色因紧致精华试用装，凭券 {COUPON} 0 元领取（付邮 9.9 元）。"),
    "browse_coupon_10": ("浏览送券 10 元", f"您最近看中的好物，送您 10 元无门槛券 {COUPON}，72 小时内有效～"),
    "browse_coupon_20": ("浏览送券 20 元", f"您最近看中的好物，送您 20 元无门槛券 {COUPON}，72 小时内有效～"),
    "birthday_vip": ("生日礼（重要客户）",
        f"{NAME}，生日快乐！作为澜肌{LEVEL}，"
        f"送您生日礼：精华正装一瓶 + 满 500 减 100 券 {COUPON}。"),
    "birthday": ("生日祝福", f"{NAME}，生日快乐！澜肌送您生日券 {COUPON}：满 199 减 40，本月有效。"),
}  # fmt: skip
PLAYBOOKS = ("welcome", "wake_up", "replenish", "browse_coupon", "birthday")


def ensure_templates(session: Session, now: datetime) -> int:
    """Save the templates that are missing or differ; returns how many were saved."""
    saved = 0
    known = set(template_store.known_traits(session))
    for template_id, (name, text) in TEMPLATES.items():
        body = text
        for trait, words in TRAIT_WORDS.items():
            if trait not in known:
                body = body.replace(_trait(trait), words)
        row = session.get(MessageTemplate, template_id)
        if row is not None and row.body == body and row.channel == CHANNEL and row.name == name:
            continue
        data = {"channel": CHANNEL, "name": name, "body": body}
        template_store.save(session, template_id, data, actor=ACTOR, now=now)
        saved += 1
    return saved


def on_demo_channel(definition: dict[str, Any]) -> dict[str, Any]:
    """The definition with every send node on the `memory` channel and the demo's description."""
    out = copy.deepcopy(definition)
    for node in out["nodes"]:
        if node.get("type") == "send":
            node["channel"] = CHANNEL
    out["description"] = DESCRIPTION
    return out


def parameters(segment_ids: dict[str, int], tag_ids: dict[str, int], supervisor: int) -> dict[str, Any]:
    return {
        "welcome": {"new_customer_tag_id": tag_ids[WELCOMED]},
        "wake_up": {
            "silent_segment_id": segment_ids["valuable_dormant"],
            "woken_tag_id": tag_ids[WOKEN],
            "fallback_staff_id": supervisor,
        },
        "replenish": {},
        "browse_coupon": {"browsed_segment_id": segment_ids["browsers"]},
        "birthday": {},
    }


def ensure_journeys(session: Session, params: dict[str, dict[str, Any]], now: datetime) -> dict[str, int]:
    """Each playbook cloned (version 1), moved to the demo channel (version 2) and activated, unless a
    journey from that playbook exists already (left as the operator has it); playbook → journey id."""
    out: dict[str, int] = {}
    for key in PLAYBOOKS:
        existing = session.scalar(
            select(Journey.id)
            .where(Journey.playbook == key, Journey.status != "archived")
            .order_by(Journey.id)
        )
        if existing is not None:
            out[key] = int(existing)
            continue
        journey = journeys.clone_playbook(session, key, params[key], actor=ACTOR, now=now)
        first = journeys.versions(session, journey.id)[0].definition
        journeys.update(session, journey.id, on_demo_channel(first), actor=ACTOR, now=now)
        journeys.transition(session, journey.id, "activate", now=now)
        out[key] = journey.id
    return out
