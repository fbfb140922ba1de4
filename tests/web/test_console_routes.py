"""Console routes over plain HTTP: sign-in flow and cookie, redirects, search, paging, masking, headers."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.fixtures.live_server import LiveServer
from tests.web.conftest import LI_PHONE, ZHANG_PHONE, ingest


def rows(html: str) -> list[str]:
    body = html.split("<tbody>", 1)[1].split("</tbody>", 1)[0] if "<tbody>" in html else ""
    return re.findall(r'href="/customers/(\d+)" class="customer-link"', body)


def test_home_and_pages_redirect_to_sign_in_without_a_cookie(anonymous: httpx.Client) -> None:
    home = anonymous.get("/")
    assert home.status_code == 303
    assert home.headers["location"] == "/customers"
    listing = anonymous.get("/customers?q=plan:gold&by=trait")
    assert listing.status_code == 303
    assert listing.headers["location"] == "/signin?next=%2Fcustomers%3Fq%3Dplan%3Agold%26by%3Dtrait"
    profile = anonymous.get("/customers/1")
    assert profile.status_code == 303
    assert profile.headers["location"].startswith("/signin?next=")
    form = anonymous.get("/signin")
    assert form.status_code == 200
    assert 'name="token"' in form.text
    assert "登录运营控制台" in form.text


def test_sign_in_sets_an_http_only_strict_cookie(anonymous: httpx.Client, admin_token: str) -> None:
    response = anonymous.post("/signin", data={"token": admin_token, "next": "/customers?q=x"})
    assert response.status_code == 303
    assert response.headers["location"] == "/customers?q=x"
    cookie = response.headers["set-cookie"]
    assert cookie.startswith("siyu_auth=")
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    assert "Path=/" in cookie
    assert anonymous.get("/signin").headers["location"] == "/customers"  # already signed in


def test_bad_or_empty_token_is_refused(anonymous: httpx.Client) -> None:
    bad = anonymous.post("/signin", data={"token": "sy_nope"})
    assert bad.status_code == 401
    assert "令牌无效或已被吊销。" in bad.text
    assert "set-cookie" not in bad.headers
    empty = anonymous.post("/signin", data={"token": "  "})
    assert empty.status_code == 400
    assert "请输入 API 令牌。" in empty.text


def test_next_never_leaves_the_site(anonymous: httpx.Client, admin_token: str) -> None:
    for target in ("//evil.example/x", "https://evil.example/", "/\\evil.example"):
        response = anonymous.post("/signin", data={"token": admin_token, "next": target})
        assert response.headers["location"] == "/customers"


def test_cross_site_posts_are_refused(anonymous: httpx.Client, admin_token: str) -> None:
    headers = {"Origin": "https://evil.example"}
    response = anonymous.post("/signin", data={"token": admin_token}, headers=headers)
    assert response.status_code == 403
    assert "set-cookie" not in response.headers


def test_unknown_cookie_redirects_and_is_cleared(live_server: LiveServer) -> None:
    with httpx.Client(base_url=live_server.url, cookies={"siyu_auth": "sy_revoked"}) as client:
        response = client.get("/customers")
    assert response.status_code == 303
    assert 'siyu_auth=""' in response.headers["set-cookie"]


def test_sign_out_clears_the_cookie(admin_console: httpx.Client) -> None:
    response = admin_console.post("/signout")
    assert response.status_code == 303
    assert response.headers["location"] == "/signin"
    assert admin_console.get("/customers").status_code == 303


def test_search_by_identity_trait_and_browse(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    by_phone = admin_console.get("/customers", params={"q": f"phone:{LI_PHONE}"})
    assert by_phone.status_code == 200
    assert rows(by_phone.text) == [str(seeded["li"])]
    bare = admin_console.get("/customers", params={"q": ZHANG_PHONE})
    assert rows(bare.text) == [str(seeded["zhang"])]
    email = admin_console.get("/customers", params={"q": "ZHANG@example.com"})
    assert rows(email.text) == [str(seeded["zhang"])]
    user = admin_console.get("/customers", params={"q": "user_id:u-li"})
    assert rows(user.text) == [str(seeded["li"])]
    browse = admin_console.get("/customers")
    assert sorted(rows(browse.text)) == sorted(str(i) for i in seeded.values())
    none = admin_console.get("/customers", params={"q": "phone:13700000000"})
    assert rows(none.text) == []
    assert "没有找到客户。" in none.text


def test_search_by_trait(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    trait = admin_console.get("/customers", params={"by": "trait", "q": "plan:gold"})
    assert trait.status_code == 200
    assert rows(trait.text) == [str(seeded["zhang"])]


def test_numeric_traits_are_shown(
    request: pytest.FixtureRequest,
    db_url: str,
    live_server: LiveServer,
    write_key: str,
    admin_console: httpx.Client,
) -> None:
    message = {"type": "identify", "messageId": "age-1", "userId": "u-age", "traits": {"age": 30}}
    ingest(live_server.url, write_key, [message])
    listing = admin_console.get("/customers", params={"q": "user_id:u-age"})
    assert listing.status_code == 200
    (cid,) = rows(listing.text)
    assert 'data-trait="age"' in admin_console.get(f"/customers/{cid}").text


def test_bad_searches_show_an_error(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    bad_phone = admin_console.get("/customers", params={"q": "phone:abc"})
    assert bad_phone.status_code == 400
    assert 'id="search-error"' in bad_phone.text
    personal = admin_console.get("/customers", params={"by": "trait", "q": f"phone:{ZHANG_PHONE}"})
    assert personal.status_code == 400
    assert "personal data" in personal.text
    shapeless = admin_console.get("/customers", params={"q": "nonsense"})
    assert shapeless.status_code == 400


def test_browse_is_paged(live_server: LiveServer, write_key: str, admin_console: httpx.Client) -> None:
    ingest(
        live_server.url,
        write_key,
        [
            {"type": "identify", "messageId": f"p-{i}", "userId": f"p-{i}", "traits": {"batch": f"p{i}"}}
            for i in range(30)
        ],
    )
    first = admin_console.get("/customers")
    assert len(rows(first.text)) == 25
    next_url = re.search(r'href="([^"]+)" id="next-page"', first.text)
    assert next_url is not None
    second = admin_console.get(next_url.group(1).replace("&amp;", "&"))
    assert len(rows(second.text)) == 5
    assert not set(rows(first.text)) & set(rows(second.text))
    assert 'id="next-page"' not in second.text
    assert "回到第一页" in second.text


def test_profile_stats_timeline_and_paging(
    live_server: LiveServer, write_key: str, admin_console: httpx.Client, seeded: dict[str, int]
) -> None:
    ingest(
        live_server.url,
        write_key,
        [
            {
                "type": "track",
                "messageId": f"view-{i}",
                "userId": "u-zhang",
                "event": "Page Scrolled",
                "timestamp": f"2026-05-01T00:{i:02d}:00Z",
                "properties": {"depth": i},
            }
            for i in range(20)
        ],
    )
    page = admin_console.get(f"/customers/{seeded['zhang']}")
    assert page.status_code == 200
    html = page.text
    for text in ("累计消费", "¥498.00", "订单数", "客单价", "¥249.00", "首次出现", "最近出现", "合并记录"):
        assert text in html
    assert html.count('class="event"') == 20
    assert html.count("Page Scrolled") == 20  # newest first: the 20 newer events fill page one
    older = re.search(r'href="([^"]+)" id="next-events"', html)
    assert older is not None
    second = admin_console.get(older.group(1)).text
    assert second.count('class="event"') == 4
    assert "Order Completed" in second
    assert 'id="next-events"' not in second


def test_viewer_sees_masks_and_admin_sees_the_number(
    admin_console: httpx.Client, viewer_console: httpx.Client, seeded: dict[str, int]
) -> None:
    path = f"/customers/{seeded['zhang']}"
    admin_html = admin_console.get(path).text
    viewer_html = viewer_console.get(path).text
    assert f"+86{ZHANG_PHONE}" in admin_html
    assert "zhang@example.com" in admin_html
    assert "138****5678" in viewer_html
    assert "z***@example.com" in viewer_html
    assert ZHANG_PHONE not in viewer_html
    assert "zhang@example.com" not in viewer_html
    assert 'id="masked-note"' in viewer_html
    assert 'id="masked-note"' not in admin_html


def test_merged_customer_shows_the_survivor_and_lineage(
    live_server: LiveServer, admin_token: str, admin_console: httpx.Client, seeded: dict[str, int]
) -> None:
    merged = httpx.post(
        f"{live_server.url}/api/v1/customers/{seeded['zhang']}/merge",
        json={"merged_id": seeded["li"], "reason": "same person at the store"},
        headers={"Authorization": f"Bearer {admin_token}"},
    )
    assert merged.status_code == 200, merged.text
    html = admin_console.get(f"/customers/{seeded['li']}").text
    assert f"客户 #{seeded['li']} 已合并到客户 #{seeded['zhang']}" in html
    assert "same person at the store" in html
    assert "生效中" in html


def test_unknown_customer_is_a_404_page(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    response = admin_console.get("/customers/999999")
    assert response.status_code == 404
    assert "没有找到这个客户。" in response.text
    bad_cursor = admin_console.get(f"/customers/{seeded['zhang']}", params={"events": "!!"})
    assert bad_cursor.status_code == 400


def test_language_cookie(admin_console: httpx.Client, seeded: dict[str, int]) -> None:
    english = admin_console.get("/customers?lang=en")
    assert "siyu_lang=en" in english.headers["set-cookie"]
    assert '<html lang="en">' in english.text
    assert "Customers" in english.text
    remembered = admin_console.get(f"/customers/{seeded['zhang']}")
    assert "Total spent" in remembered.text
    assert 'href="/customers/{}?lang=zh"'.format(seeded["zhang"]) in remembered.text
    back = admin_console.get("/customers?lang=zh")
    assert "累计消费" in back.text or "客户" in back.text
    assert '<html lang="zh-CN">' in back.text


def test_pages_carry_security_headers_and_escape_data(
    live_server: LiveServer, write_key: str, admin_console: httpx.Client
) -> None:
    ingest(
        live_server.url,
        write_key,
        [
            {
                "type": "identify",
                "messageId": "x-1",
                "userId": "u-x",
                "traits": {"plan": "<script>alert(1)</script>"},
            }
        ],
    )
    response = admin_console.get("/customers", params={"q": "user_id:u-x"})
    (cid,) = rows(response.text)
    assert "default-src 'none'" in response.headers["content-security-policy"]
    assert response.headers["cache-control"] == "no-store"
    assert response.headers["x-frame-options"] == "DENY"
    profile = admin_console.get(f"/customers/{cid}").text
    assert "<script>alert(1)</script>" not in profile
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in profile


def test_static_files(anonymous: httpx.Client) -> None:
    css = anonymous.get("/static/console.css")
    assert css.status_code == 200
    assert css.headers["content-type"].startswith("text/css")
    assert anonymous.get("/static/../console.py").status_code == 404
    assert anonymous.get("/static/%2e%2e/console.py").status_code == 404
    assert anonymous.get("/static/missing.css").status_code == 404
