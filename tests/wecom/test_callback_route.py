"""The WeCom callback URL over real HTTP (SQLite and PostgreSQL): URL verification with WeCom's published
sample, contact events ingested once however often WeCom retries, owners assigned, forged or malformed
callbacks refused with a 400 naming the field."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.auth.tables import Source
from siyu.core.database import session_factory
from siyu.customers.tables import Identity
from siyu.events.tables import Event
from siyu.staff.tables import CustomerOwner, Staff
from siyu.wecom.callback import SOURCE_NAME
from tests.fixtures.live_server import LiveServer

from .callbacks import CORP_ID, event_xml, signed, wecom_callback_settings

__all__ = ["wecom_callback_settings"]

URL = "/wecom/callback"
SAMPLE_QUERY = {
    "msg_signature": "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb",
    "timestamp": "1476416373",
    "nonce": "47744683",
    "echostr": "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA==",
}


@pytest.fixture
def http(live_server: LiveServer, wecom_callback_settings: Any) -> Any:
    with httpx.Client(base_url=live_server.url, timeout=10) as client:
        yield client


def post(http: httpx.Client, plain: str) -> httpx.Response:
    query, body = signed(plain)
    return http.post(URL, params=query, content=body, headers={"Content-Type": "text/xml"})


def contact_events(db_url: str) -> list[Event]:
    with session_factory(db_url)() as s:
        source = s.scalar(select(Source.id).where(Source.name == SOURCE_NAME))
        return list(s.scalars(select(Event).where(Event.source_id == source).order_by(Event.id)))


def owner_of(s: Session, external: str) -> str | None:
    cid = s.scalar(select(Identity.customer_id).where(Identity.type == "wecom_external_userid",
                                                      Identity.lookup == external))  # fmt: skip
    return s.scalar(
        select(Staff.userid).join(CustomerOwner, CustomerOwner.staff_id == Staff.id)
        .where(CustomerOwner.customer_id == cid)
    )  # fmt: skip


def test_url_verification_with_the_published_sample(http: httpx.Client) -> None:
    response = http.get(URL, params=SAMPLE_QUERY)
    assert response.status_code == 200 and response.text == "1288432023552776189"


def test_url_verification_with_an_unencoded_plus_in_echostr(http: httpx.Client) -> None:
    raw = "&".join(f"{k}={v}" for k, v in SAMPLE_QUERY.items())  # '+' and '/' left as they are
    response = http.get(f"{URL}?{raw}")
    assert response.status_code == 200 and response.text == "1288432023552776189"


@pytest.mark.parametrize(
    ("change", "field"),
    [({"msg_signature": "0" * 40}, "msg_signature"), ({"nonce": "47744684"}, "msg_signature"),
     ({"echostr": "bm90IGFlcw=="}, "msg_signature")],
)  # fmt: skip
def test_url_verification_refuses_a_wrong_signature(
    http: httpx.Client, change: dict[str, str], field: str
) -> None:
    response = http.get(URL, params={**SAMPLE_QUERY, **change})
    assert response.status_code == 400 and response.json()["field"] == field


@pytest.mark.parametrize("missing", ["msg_signature", "timestamp", "nonce", "echostr"])
def test_url_verification_names_a_missing_parameter(http: httpx.Client, missing: str) -> None:
    query = {k: v for k, v in SAMPLE_QUERY.items() if k != missing}
    response = http.get(URL, params=query)
    assert response.status_code == 400 and response.json()["field"] == missing


def test_not_configured_is_a_4xx_naming_the_settings(
    http: httpx.Client, wecom_callback_settings: Callable[[], None]
) -> None:
    wecom_callback_settings()
    response = http.get(URL, params=SAMPLE_QUERY)
    assert response.status_code == 400
    assert "SIYU_WECOM_CALLBACK_TOKEN" in response.json()["error"]


def test_contact_added_is_ingested_once_with_owner(http: httpx.Client, db_url: str) -> None:
    plain = event_xml("add_external_contact", "wmNEW1", State="live-store-12", WelcomeCode="WC-1")
    for _retry in range(3):  # WeCom retries the same callback when it gets no answer in time
        response = post(http, plain)
        assert response.status_code == 200 and response.text == "success"
    (event,) = contact_events(db_url)
    assert event.name == "Contact Added" and event.type == "track"
    assert event.properties == {"userid": "zhangsan", "change_type": "add_external_contact",
                                "state": "live-store-12", "welcome_code": "WC-1"}  # fmt: skip
    with session_factory(db_url)() as s:
        identity = s.scalar(select(Identity).where(Identity.type == "wecom_external_userid"))
        assert identity is not None and identity.value == "wmNEW1"
        assert identity.customer_id == event.customer_id
        assert owner_of(s, "wmNEW1") == "zhangsan"
        staff = s.scalar(select(Staff).where(Staff.userid == "zhangsan"))
        assert staff is not None and staff.active


def test_an_existing_owner_is_kept_and_a_half_add_counts_as_added(http: httpx.Client, db_url: str) -> None:
    assert post(http, event_xml("add_external_contact", "wm2", userid="lisi")).text == "success"
    assert post(http, event_xml("add_half_external_contact", "wm2", userid="wangwu")).text == "success"
    assert [(e.name, e.properties["userid"]) for e in contact_events(db_url)] == [
        ("Contact Added", "lisi"), ("Contact Added", "wangwu")]  # fmt: skip
    with session_factory(db_url)() as s:
        assert owner_of(s, "wm2") == "lisi"
        assert set(s.scalars(select(Staff.userid))) == {"lisi", "wangwu"}
    added = contact_events(db_url)[0]
    assert "welcome_code" not in added.properties and added.properties["state"] == ""


def test_deletions_on_either_side(http: httpx.Client, db_url: str) -> None:
    post(http, event_xml("add_external_contact", "wm3"))
    post(http, event_xml("del_follow_user", "wm3"))
    post(http, event_xml("del_external_contact", "wm3", Source="DELETE_BY_TRANSFER"))
    added, *deleted = contact_events(db_url)
    assert [e.name for e in deleted] == ["Contact Deleted", "Contact Deleted"]
    assert {e.customer_id for e in deleted} == {added.customer_id}
    assert [e.properties["deleted_by"] for e in deleted] == ["customer", "staff"]
    assert deleted[1].properties["source"] == "DELETE_BY_TRANSFER"


def test_other_events_are_answered_and_ignored(http: httpx.Client, db_url: str) -> None:
    for plain in (
        event_xml("edit_external_contact"),
        event_xml("transfer_fail", FailReason="customer_refused"),
        event_xml("add_external_contact").replace("change_external_contact", "change_external_chat"),
        f"<xml><ToUserName>{CORP_ID}</ToUserName><MsgType>text</MsgType><Content>hi</Content></xml>",
    ):
        response = post(http, plain)
        assert response.status_code == 200 and response.text == "success"
    assert contact_events(db_url) == []


@pytest.mark.parametrize(
    ("plain", "field"),
    [(event_xml("add_external_contact", external=""), "ExternalUserID"),
     (event_xml("add_external_contact", userid=""), "UserID"),
     (event_xml("add_external_contact").replace("<CreateTime><![CDATA[", "<CreateTime><![CDATA[x"),
      "CreateTime"),
     (event_xml("add_external_contact", "w" * 300), "ExternalUserID")],
)  # fmt: skip
def test_malformed_events_name_the_field(http: httpx.Client, db_url: str, plain: str, field: str) -> None:
    response = post(http, plain)
    assert response.status_code == 400 and response.json()["field"] == field
    assert contact_events(db_url) == []


def test_forged_and_broken_bodies_are_refused(http: httpx.Client, db_url: str) -> None:
    query, body = signed(event_xml("add_external_contact"))
    cases = [
        ({**query, "msg_signature": "f" * 40}, body, "msg_signature"),
        ({**query, "timestamp": "1"}, body, "msg_signature"),
        (query, "<xml><ToUserName>x</ToUserName></xml>", "Encrypt"),
        (query, "not xml at all", "body"),
        (query, '<!DOCTYPE x [<!ENTITY a "b">]><xml><Encrypt>&a;</Encrypt></xml>', "body"),
        (query, "<xml>" + "<a>1</a>" * 40_000 + "</xml>", "body"),
        ({k: v for k, v in query.items() if k != "nonce"}, body, "nonce"),
        ({**query, "timestamp": "soon"}, body, "timestamp"),
    ]
    for params, content, field in cases:
        response = http.post(URL, params=params, content=content)
        assert response.status_code == 400, (field, response.text)
        assert response.json()["field"] == field
    assert contact_events(db_url) == []


@pytest.mark.slow
def test_fuzzed_callbacks_never_cause_a_server_error(http: httpx.Client, live_server: LiveServer) -> None:
    import schemathesis
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json").include(path_regex="^/wecom/")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert {op.method.upper() for op in operations} == {"GET", "POST"}
    for operation in operations:

        @given(case=operation.as_strategy(), body=st.binary(max_size=2000) | st.text(max_size=2000))
        @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def check(case: schemathesis.Case, body: bytes | str) -> None:
            if case.method.upper() == "POST":
                response = http.post(URL, params=case.query or {}, content=body)
            else:
                response = case.call(timeout=30)
            assert response.status_code < 500, f"{case.method} {case.query}: {response.text[:300]}"
            if response.status_code >= 400:
                assert response.json().get("field"), response.text

        check()
