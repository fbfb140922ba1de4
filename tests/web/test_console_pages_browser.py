"""The new console pages in a real browser (Debian's chromium): the segment builder previews as the operator
types (through the API, with the signed-in token) and names the bad field; navigation in both languages."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from tests.web.conftest import SERUM_VIEWED, Operated

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def sign_in(page: Any, token: str, target: str) -> None:
    page.goto(target)
    page.fill("#token", token)
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(re.escape(target) + "$"))


def with_value(value: int) -> str:
    return json.dumps({**SERUM_VIEWED, "root": {**SERUM_VIEWED["root"], "value": value}}, ensure_ascii=False)


def test_builder_previews_while_typing_and_names_the_bad_field(
    page: Any, operated: Operated, admin_token: str
) -> None:
    sign_in(page, admin_token, "/segments/new")
    expect(page.locator("#preview-count")).to_have_attribute("data-count", "0")  # the first example, at once

    with page.expect_response("**/api/v1/segments/preview") as answered:
        page.fill("#definition", with_value(1))
    assert answered.value.status == 200
    expect(page.locator("#preview-count")).to_have_text("1 人")
    expect(page.locator("#preview-sample a.sample-link")).to_have_text([f"#{operated.zhang}"])

    previews: list[Any] = []
    page.on("response", lambda r: previews.append(r) if r.url.endswith("/segments/preview") else None)
    page.locator("#definition").press("End")
    page.locator("#definition").press_sequentially(" \n  ", delay=20)  # four keystrokes, then a pause
    page.wait_for_timeout(1200)
    assert len(previews) == 1  # debounced: one preview after the operator stops typing
    expect(page.locator("#preview-count")).to_have_text("1 人")

    page.fill("#definition", with_value(2))
    expect(page.locator("#preview-count")).to_have_attribute("data-count", "0")
    expect(page.locator("#preview-sample")).to_have_text("没有客户满足这些条件。")

    broken = json.dumps({**SERUM_VIEWED, "root": {**SERUM_VIEWED["root"], "window": {"last_days": 0}}})
    page.fill("#definition", broken)
    expect(page.locator("#preview-error")).to_be_visible()
    expect(page.locator("#preview-field")).to_have_text("字段：definition.root.window.last_days")
    expect(page.locator("#preview-count")).to_be_hidden()

    page.fill("#definition", '{"version": 1, "root": ')
    expect(page.locator("#preview-error")).to_contain_text("JSON 格式有误")
    expect(page.locator("#preview-field")).to_have_text("字段：definition")

    page.click("button.example[data-example=repeat_buyers]")
    expect(page.locator("#preview-count")).to_have_text("1 人")
    page.fill("#segment-name", "复购客户")
    page.click("#save-segment")
    expect(page).to_have_url(re.compile(r"/segments/\d+$"))
    expect(page.locator("#definition")).to_have_text("订单数 ≥ 2")
    expect(page.locator("#segment-members")).to_have_text("1")


def test_navigation_in_both_languages(page: Any, operated: Operated, admin_token: str) -> None:
    sign_in(page, admin_token, "/customers")
    for link, heading in (("tags", "标签"), ("segments", "分群"), ("journeys", "旅程"), ("insight", "洞察")):
        page.click(f"#nav-{link}")
        expect(page.locator("h1")).to_have_text(heading)
        expect(page.locator(f"#nav-{link}")).to_have_attribute("aria-current", "page")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("Insight")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    for link, heading in (("customers", "Customers"), ("tags", "Tags"), ("segments", "Segments")):
        page.click(f"#nav-{link}")
        expect(page.locator("h1")).to_have_text(heading)
    page.click("#nav-journeys")
    page.click(f"tr[data-journey='{operated.journey_id}'] a.journey-link")
    expect(page.locator("#nodes")).to_contain_text("split A 50, B 50, holdout 0%")
    page.click("#lang-switch")
    expect(page.locator("#nodes")).to_contain_text("按 A 50、B 50 分流，对照组 0%")
