"""The console in a real browser (Debian's chromium): sign-in, search, profile, masking, language."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tests.web.conftest import ZHANG_PHONE

pytestmark = pytest.mark.browser

from playwright.sync_api import expect  # noqa: E402


def sign_in(page: Any, token: str) -> None:
    page.goto("/")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.fill("#token", token)
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(r"/customers$"))


def search(page: Any, query: str) -> None:
    page.fill("#q", query)
    page.click("#search")
    expect(page.locator("#customers tbody tr")).to_have_count(1)


def test_admin_signs_in_finds_customer_by_phone_and_reads_profile(
    page: Any, seeded: dict[str, int], admin_token: str
) -> None:
    sign_in(page, admin_token)
    expect(page.locator("#who")).to_have_attribute("data-role", "admin")
    search(page, f"phone:{ZHANG_PHONE}")
    row = page.locator("#customers tbody tr")
    expect(row).to_contain_text("张三")
    expect(row).to_contain_text(ZHANG_PHONE)
    row.locator("a.customer-link").click()

    expect(page).to_have_url(re.compile(rf"/customers/{seeded['zhang']}$"))
    expect(page.locator("#customer-title")).to_have_text("张三")
    expect(page.locator("#stats")).to_contain_text("累计消费")
    expect(page.locator("#stat-total-spent")).to_have_text("¥498.00")
    expect(page.locator("#stat-orders")).to_have_text("2")
    expect(page.locator("#stat-aov")).to_have_text("¥249.00")
    expect(page.locator("#stat-events")).to_have_text("4")
    expect(page.locator("#identities tr[data-type=phone]")).to_contain_text(f"+86{ZHANG_PHONE}")
    expect(page.locator("#traits tr[data-trait=phone]")).to_contain_text(ZHANG_PHONE)
    expect(page.locator("#masked-note")).to_have_count(0)

    timeline = page.locator("#timeline li.event")
    expect(timeline).to_have_count(4)
    expect(timeline.first).to_contain_text("Order Completed")
    expect(timeline.first).to_contain_text("o-2")
    expect(timeline.last).to_have_attribute("data-type", "identify")


def test_viewer_sees_masked_personal_data(page: Any, seeded: dict[str, int], viewer_token: str) -> None:
    sign_in(page, viewer_token)
    search(page, ZHANG_PHONE)  # a bare phone number is read as phone:…
    row = page.locator("#customers tbody tr")
    expect(row).to_contain_text("138****5678")
    expect(row).to_contain_text("z***@example.com")
    expect(page.locator("#masked-note")).to_be_visible()

    row.locator("a.customer-link").click()
    expect(page.locator("#identities tr[data-type=phone]")).to_contain_text("138****5678")
    expect(page.locator("#traits tr[data-trait=phone]")).to_contain_text("138****5678")
    expect(page.locator("#stat-total-spent")).to_have_text("¥498.00")
    assert ZHANG_PHONE not in page.content()
    assert "张三" not in page.content()


def test_language_switch_is_remembered(page: Any, seeded: dict[str, int], admin_token: str) -> None:
    sign_in(page, admin_token)
    expect(page.locator("h1")).to_have_text("客户")
    page.click("#lang-switch")
    expect(page.locator("h1")).to_have_text("Customers")
    expect(page.locator("html")).to_have_attribute("lang", "en")

    page.goto(f"/customers/{seeded['zhang']}")  # no ?lang= : the cookie remembers English
    expect(page.locator("#stats")).to_contain_text("Total spent")
    expect(page.locator("#stats")).to_contain_text("Average order value")
    expect(page.locator("#timeline-title")).to_have_text("Event timeline")

    page.click("#lang-switch")
    expect(page.locator("#stats")).to_contain_text("累计消费")


def test_bad_token_shows_an_error(page: Any, seeded: dict[str, int]) -> None:
    page.goto("/signin")
    page.fill("#token", "sy_not-a-real-token")
    page.click("#sign-in")
    expect(page.locator("#signin-error")).to_have_text("令牌无效或已被吊销。")
    expect(page).to_have_url(re.compile(r"/signin$"))
    assert page.context.cookies() == []
    page.goto("/customers")
    expect(page).to_have_url(re.compile(r"/signin\?next="))


def test_sign_out_forgets_the_token(page: Any, seeded: dict[str, int], admin_token: str) -> None:
    sign_in(page, admin_token)
    page.click("#sign-out")
    expect(page).to_have_url(re.compile(r"/signin$"))
    page.goto(f"/customers/{seeded['zhang']}")
    expect(page).to_have_url(re.compile(r"/signin\?next="))
    page.fill("#token", admin_token)
    page.click("#sign-in")
    expect(page).to_have_url(re.compile(rf"/customers/{seeded['zhang']}$"))
