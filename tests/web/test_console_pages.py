"""Console pages over tags, segments, journeys and insight, over plain HTTP on SQLite and PostgreSQL: what
each shows (in 中文 and English), sign-in and permissions, masking for roles without PII."""

from __future__ import annotations

import json
import re

import httpx
import pytest

from tests.fixtures.live_server import LiveServer
from tests.web.conftest import LI_PHONE, ZHANG_PHONE, Operated

NEW_PAGES = (
    "/tags",
    "/tags/1",
    "/segments",
    "/segments/1",
    "/segments/new",
    "/segments/1/edit",
    "/journeys",
    "/journeys/1",
    "/journeys/playbooks",
    "/insight?days=7",
    "/customers/1/segments",
    "/customers/1/segments/1",
)


def text(html: str) -> str:
    """The page's visible words, tags removed and spaces collapsed (for phrases across elements)."""
    body = html.split("<main", 1)[-1]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).replace("&#34;", '"').replace("&#39;", "'")


def member_ids(html: str) -> list[int]:
    return [int(i) for i in re.findall(r'<tr data-customer="(\d+)">', html)]


def api(live_server: LiveServer, token: str) -> httpx.Client:
    return httpx.Client(base_url=live_server.url, headers={"Authorization": f"Bearer {token}"})


def test_every_new_page_needs_sign_in(anonymous: httpx.Client) -> None:
    for path in NEW_PAGES:
        response = anonymous.get(path)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next="), path
    cloned = anonymous.post("/journeys/playbooks/welcome/clone", data={"new_customer_tag_id": "1"})
    assert cloned.status_code == 303
    saved = anonymous.post("/segments/new", data={"name": "x", "definition": "{}"})
    assert saved.status_code == 303


def test_navigation_in_both_languages(admin_console: httpx.Client, operated: Operated) -> None:
    zh = admin_console.get("/segments")
    for label in ("客户", "标签", "分群", "旅程", "洞察"):
        assert f">{label}</a>" in zh.text
    assert 'id="nav-segments" aria-current="page"' in zh.text
    en = admin_console.get("/insight?lang=en&days=7")
    for label in ("Customers", "Tags", "Segments", "Journeys", "Insight"):
        assert f">{label}</a>" in en.text
    assert 'id="nav-insight" aria-current="page"' in en.text
    assert "script-src 'self'" in en.headers["content-security-policy"]


def test_tags_page_and_members(
    admin_console: httpx.Client, viewer_console: httpx.Client, operated: Operated
) -> None:
    page = admin_console.get("/tags")
    assert page.status_code == 200
    words = text(page.text)
    assert "兴趣偏好 兴趣 手动/导入" in words
    row = re.search(rf'<tr data-tag="{operated.tag_id}">.*?</tr>', page.text, re.S)
    assert row is not None
    assert "敏感肌" in row.group(0)
    assert '<td class="num tag-members">2</td>' in row.group(0)
    rfm_group = re.search(
        r'data-group="\d+">\s*<header class="card-head">\s*<h2>RFM 价值分层</h2>', page.text
    )
    assert rfm_group is not None  # written by the RFM run, exclusive
    english = admin_console.get("/tags?lang=en")
    assert "兴趣偏好 interest manual / imported" in text(english.text)

    members = admin_console.get(f"/tags/{operated.tag_id}")
    assert sorted(member_ids(members.text)) == sorted([operated.zhang, operated.li])
    assert f"+86{ZHANG_PHONE}" in members.text
    masked = viewer_console.get(f"/tags/{operated.tag_id}")
    assert sorted(member_ids(masked.text)) == sorted([operated.zhang, operated.li])
    assert "138****5678" in masked.text
    assert ZHANG_PHONE not in masked.text and LI_PHONE not in masked.text
    assert "张三" not in masked.text
    assert 'id="masked-note"' in masked.text
    assert admin_console.get("/tags/999999").status_code == 404


def test_segments_list_definition_and_members(
    admin_console: httpx.Client, viewer_console: httpx.Client, operated: Operated
) -> None:
    listing = admin_console.get("/segments")
    for sid, count in ((operated.serum_segment, 1), (operated.gold_segment, 1)):
        row = re.search(rf'<tr data-segment="{sid}">.*?</tr>', listing.text, re.S)
        assert row is not None
        assert f'<td class="num segment-members">{count}</td>' in row.group(0)
    assert 'id="new-segment"' in listing.text
    assert 'id="new-segment"' not in viewer_console.get("/segments").text

    page = admin_console.get(f"/segments/{operated.gold_segment}")
    words = text(page.text)
    assert "同时满足以下全部条件 属性 plan = gold 订单数 ≥ 2" in words
    assert member_ids(page.text) == [operated.zhang]
    assert "张三" in page.text
    serum = text(admin_console.get(f"/segments/{operated.serum_segment}").text)
    assert "累计 浏览商品（商品=serum-30ml）≥ 1 次" in serum
    english = text(admin_console.get(f"/segments/{operated.serum_segment}?lang=en").text)
    assert "Product Viewed (product = serum-30ml) ≥ 1 times ever" in english

    masked = viewer_console.get(f"/segments/{operated.gold_segment}")
    assert member_ids(masked.text) == [operated.zhang]
    assert "138****5678" in masked.text and "z***@example.com" in masked.text
    assert ZHANG_PHONE not in masked.text and "张三" not in masked.text
    assert 'id="edit-segment"' not in masked.text


def test_segment_builder_saves_and_refuses_bad_definitions(
    live_server: LiveServer,
    admin_token: str,
    admin_console: httpx.Client,
    viewer_console: httpx.Client,
    operated: Operated,
) -> None:
    builder = admin_console.get("/segments/new")
    assert builder.status_code == 200
    assert f'<meta name="siyu-api-token" content="{admin_token}">' in builder.text
    assert '<script src="/static/builder.js' in builder.text
    assert builder.text.count('class="link-button example"') == 5
    assert admin_console.get("/static/builder.js").status_code == 200

    bad_window = '{"version": 1, "root": {"type": "event_count", "event": "x", "window": {"last_days": 0}}}'
    refused = admin_console.post("/segments/new", data={"name": "坏窗口", "definition": bad_window})
    assert refused.status_code == 400
    assert 'data-field="definition.root.window.last_days"' in refused.text
    assert "坏窗口" in refused.text  # the form keeps what was typed
    not_json = admin_console.post("/segments/new", data={"name": "坏 JSON", "definition": "{oops"})
    assert not_json.status_code == 400
    assert 'data-field="definition"' in not_json.text
    taken = admin_console.post("/segments/new", data={"name": "看过精华", "definition": bad_window})
    assert taken.status_code == 409
    assert 'data-field="name"' in taken.text
    with api(live_server, admin_token) as client:
        names = [s["name"] for s in client.get("/api/v1/segments").json()["items"]]
    assert sorted(names) == ["看过精华", "金卡复购"]

    tagged = {"type": "tag", "tag_id": operated.tag_id}
    definition = json.dumps({"version": 1, "root": tagged})
    saved = admin_console.post(
        "/segments/new", data={"name": "敏感肌人群", "description": "测试", "definition": definition}
    )
    assert saved.status_code == 303
    new_id = int(saved.headers["location"].rsplit("/", 1)[1])
    page = admin_console.get(saved.headers["location"])
    assert "有标签「兴趣偏好 · 敏感肌」" in text(page.text)
    assert sorted(member_ids(page.text)) == sorted([operated.zhang, operated.li])

    duplicate = admin_console.post("/segments/new", data={"name": "敏感肌人群", "definition": definition})
    assert duplicate.status_code == 409
    assert 'data-field="name"' in duplicate.text

    edit = admin_console.get(f"/segments/{new_id}/edit")
    assert "敏感肌人群" in edit.text and "tag_id" in edit.text
    silver = {"type": "trait", "name": "plan", "op": "eq", "value": "silver"}
    narrower = json.dumps({"version": 1, "root": {"type": "and", "children": [tagged, silver]}})
    version = admin_console.post(
        f"/segments/{new_id}/edit", data={"name": "敏感肌人群", "definition": narrower}
    )
    assert version.status_code == 303
    page = admin_console.get(f"/segments/{new_id}")
    assert member_ids(page.text) == [operated.li]
    assert "v2" in page.text

    assert viewer_console.get("/segments/new").status_code == 403
    forbidden = viewer_console.post("/segments/new", data={"name": "x", "definition": definition})
    assert forbidden.status_code == 403
    cross = admin_console.post(
        "/segments/new",
        data={"name": "x", "definition": definition},
        headers={"Origin": "https://evil.example"},
    )
    assert cross.status_code == 403


def test_profile_shows_value_tags_segments_and_explains(
    live_server: LiveServer, admin_token: str, admin_console: httpx.Client, operated: Operated
) -> None:
    with api(live_server, admin_token) as client:
        profile = client.get(f"/api/v1/customers/{operated.zhang}").json()
    rfm, stage = profile["rfm"], profile["lifecycle_stage"]
    html = admin_console.get(f"/customers/{operated.zhang}").text
    assert f'data-tier="{rfm["tier"]}">{rfm["tier_label"]}</span>' in html
    for score in ("r", "f", "m"):
        assert f'<dd id="rfm-{score}">{rfm[score]}</dd>' in html
    assert f'data-stage="{stage["stage"]}">{stage["label"]}</span>' in html
    assert f'data-tag="{operated.tag_id}"' in html and "敏感肌" in html
    memberships = re.findall(r'<tr data-segment="(\d+)">', html)
    assert sorted(int(i) for i in memberships) == sorted([operated.serum_segment, operated.gold_segment])
    assert f'href="/customers/{operated.zhang}/segments/{operated.gold_segment}"' in html
    li = admin_console.get(f"/customers/{operated.li}").text
    assert "尚未参与 RFM" in li and "不在任何分群中。" in li

    why = admin_console.get(f"/customers/{operated.zhang}/segments/{operated.gold_segment}")
    assert why.status_code == 200
    words = text(why.text)
    assert 'data-member="true"' in why.text
    assert "满足 属性 plan = gold 属性 plan 有值 是 值 gold" in words
    assert "满足 订单数 ≥ 2 次数 2 消费金额 ¥498.00 客单价 ¥249.00" in words
    not_member = admin_console.get(f"/customers/{operated.li}/segments/{operated.serum_segment}")
    assert 'data-member="false"' in not_member.text
    assert "不满足 累计 浏览商品（商品=serum-30ml）≥ 1 次 次数 0 数据来源 事件日志" in text(not_member.text)
    english = text(
        admin_console.get(f"/customers/{operated.li}/segments/{operated.gold_segment}?lang=en").text
    )
    assert "false trait plan = gold trait plan present yes value silver" in english
    picked = admin_console.get(
        f"/customers/{operated.li}/segments", params={"segment": operated.gold_segment}
    )
    assert picked.headers["location"] == f"/customers/{operated.li}/segments/{operated.gold_segment}"
    assert admin_console.get(f"/customers/{operated.li}/segments/999999").status_code == 404


def test_journeys_list_detail_and_playbook_clone(
    admin_console: httpx.Client, viewer_console: httpx.Client, operated: Operated
) -> None:
    listing = admin_console.get("/journeys")
    row = re.search(rf'<tr data-journey="{operated.journey_id}">.*?</tr>', listing.text, re.S)
    assert row is not None
    assert '<td class="num" data-metric="entered">2</td>' in row.group(0)
    assert '<td class="num" data-metric="sent">0</td>' in row.group(0)
    assert "运行中" in row.group(0)

    page = admin_console.get(f"/journeys/{operated.journey_id}")
    assert '<dd id="count-entered">2</dd>' in page.text
    words = text(page.text)
    assert "手动启动" in words
    assert "按 A 50、B 50 分流，对照组 0%" in words
    assert "通过企业微信发送模板 t_a（营销）" in words
    split = re.search(r'<tr data-node="ab".*?</tr>', page.text, re.S)
    assert split is not None and '<td class="num" data-metric="entered">2</td>' in split.group(0)
    sends = [re.search(rf'<tr data-node="{n}".*?</tr>', page.text, re.S) for n in ("a", "b")]
    entered = [int(re.findall(r'data-metric="entered">(\d+)<', m.group(0))[0]) for m in sends if m]
    assert sum(entered) == 2  # every customer went down one variant
    delivered = [re.findall(r'data-metric="delivered">(\d+)<', m.group(0)) for m in sends if m]
    assert delivered == [["0"], ["0"]]  # nothing confirmed by WeCom yet
    assert "已送达" in page.text
    arms = dict(re.findall(r'<tr data-arm="(\w+)"><td>\w+</td><td class="num">(\d+)</td>', page.text))
    assert sum(int(n) for n in arms.values()) == 2 and set(arms) <= {"A", "B"}
    assert "Steps" in admin_console.get(f"/journeys/{operated.journey_id}?lang=en").text
    admin_console.get("/journeys?lang=zh")  # back to Chinese (the language is remembered)

    gallery = admin_console.get("/journeys/playbooks")
    assert gallery.text.count('class="card playbook"') == 6
    assert f'<option value="{operated.tag_id}">兴趣偏好 · 敏感肌</option>' in gallery.text
    assert 'class="clone-form' not in viewer_console.get("/journeys/playbooks").text

    missing = admin_console.post("/journeys/playbooks/wake_up/clone", data={"silent_segment_id": ""})
    assert missing.status_code == 400
    assert 'id="clone-error" data-field="parameters"' in missing.text
    cloned = admin_console.post(
        "/journeys/playbooks/welcome/clone", data={"new_customer_tag_id": str(operated.tag_id)}
    )
    assert cloned.status_code == 303
    journey = admin_console.get(cloned.headers["location"]).text
    assert "新客欢迎" in journey and 'data-status="draft"' in journey
    assert "打标签「兴趣偏好 · 敏感肌」" in text(journey)
    assert viewer_console.post("/journeys/playbooks/welcome/clone", data={}).status_code == 403
    assert admin_console.get("/journeys/999999").status_code == 404


@pytest.mark.parametrize("lang", ["zh", "en"])
def test_insight_kpis_distributions_cohorts_and_alerts(
    admin_console: httpx.Client, operated: Operated, lang: str
) -> None:
    page = admin_console.get("/insight", params={"from": "2026-03-01", "to": "2026-04-30", "lang": lang})
    assert page.status_code == 200

    def tile(name: str) -> str:
        found = re.search(rf'id="kpi-{name}".*?<dd class="kpi-value">(.*?)</dd>', page.text, re.S)
        assert found is not None, name
        return found.group(1)

    assert tile("new_customers") == "2"
    assert tile("active_customers") == "1"
    assert tile("repurchase_rate") == "100.0%"
    assert tile("aov") == "¥249.00"
    assert tile("gmv") == "¥498.00"
    assert tile("ltv_cac") == "—"  # no acquisition spend entered
    words = text(page.text)
    if lang == "zh":
        assert "1 / 1 位购买客户" in words
        assert "2026-03-01 至 2026-04-30（61 天，品牌时区）" in words
        assert "互动环比下降" in words and "互动次数环比下降 100.0%" in words
    else:
        assert "1 of 1 buyers" in words
        assert "Interaction down week on week" in words and "Interactions fell 100.0%" in words
    assert "本期 0" in words or "this period 0" in words
    cohort = re.search(r'<tr data-cohort="2026-03-01">.*?</tr>', page.text, re.S)
    assert cohort is not None
    assert re.findall(r">(\d+%)</td>", cohort.group(0)) == ["100%", "100%"]
    tiers = dict(re.findall(r'<tr data-tier="(\w+)">.*?<td class="num">(\d+)</td>', page.text, re.S))
    assert sum(int(n) for n in tiers.values()) == 1  # only 张三 bought
    stages = dict(re.findall(r'<tr data-stage="(\w+)">.*?<td class="num">(\d+)</td>', page.text, re.S))
    assert sum(int(n) for n in stages.values()) == 2 and int(stages["prospect"]) == 1


def test_insight_refuses_a_bad_period(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    backwards = admin_console.get("/insight", params={"from": "2026-04-30", "to": "2026-03-01"})
    assert backwards.status_code == 400
    assert 'id="error-field"' in backwards.text and "from" in backwards.text
    garbled = admin_console.get("/insight", params={"to": "soon"})
    assert garbled.status_code == 400
    empty = admin_console.get("/insight", params={"days": "7"})
    assert empty.status_code == 200
    assert 'id="no-alerts"' in empty.text and 'id="no-rfm"' in empty.text
