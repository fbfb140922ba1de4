"""WeComClient against the fake WeCom server: token cache, refetch, -1 retries, rate limits, errors."""

from __future__ import annotations

import threading

import pytest

from siyu.core.settings import get_settings
from siyu.devtools.pg_server import free_port
from siyu.wecom.client import WeComClient
from siyu.wecom.errors import WeComError
from siyu.wecom.token import TokenCache
from tests.conftest import FrozenClock
from tests.fixtures.fake_providers import FakeWeCom

from .conftest import Sleeps

TAGS = "externalcontact/get_corp_tag_list"


def test_token_is_fetched_once_and_reused(client: WeComClient, fake_wecom: FakeWeCom) -> None:
    for _ in range(5):
        client.call(TAGS, {})
    assert fake_wecom.token_calls == 1
    assert len(fake_wecom.calls_to(TAGS)) == 5


def test_token_is_refreshed_early_by_the_clock(
    client: WeComClient, fake_wecom: FakeWeCom, frozen_clock: FrozenClock
) -> None:
    client.call(TAGS, {})
    cached = client.tokens.peek(client.corp_id, client.secret)
    assert cached is not None and (cached.expires_at - cached.obtained_at).total_seconds() == 7200
    frozen_clock.advance(seconds=7200 - 300 - 1)  # still inside the lifetime minus the margin
    client.call(TAGS, {})
    assert fake_wecom.token_calls == 1
    frozen_clock.advance(seconds=2)  # 5 minutes before expiry: refresh
    client.call(TAGS, {})
    assert fake_wecom.token_calls == 2


@pytest.mark.parametrize("errcode", [40014, 42001])
def test_invalid_or_expired_token_is_refetched_and_the_call_retried_once(
    client: WeComClient, fake_wecom: FakeWeCom, errcode: int
) -> None:
    client.call(TAGS, {})
    fake_wecom.fail_next(errcode)
    assert client.call(TAGS, {})["tag_group"]
    assert fake_wecom.token_calls == 2
    assert len(fake_wecom.calls_to(TAGS)) == 3


def test_token_revoked_server_side_is_refetched(client: WeComClient, fake_wecom: FakeWeCom) -> None:
    client.call(TAGS, {})
    fake_wecom.expire_tokens()
    client.call(TAGS, {})
    assert fake_wecom.token_calls == 2


def test_token_error_twice_is_not_retried_forever(client: WeComClient, fake_wecom: FakeWeCom) -> None:
    fake_wecom.fail_next(42001, 42001, 42001)
    with pytest.raises(WeComError) as info:
        client.call(TAGS, {})
    assert info.value.errcode == 42001
    assert len(fake_wecom.calls_to(TAGS)) == 2
    assert fake_wecom.token_calls == 2


def test_system_busy_is_retried_three_times_with_backoff(
    client: WeComClient, fake_wecom: FakeWeCom, sleeps: Sleeps
) -> None:
    fake_wecom.fail_next(-1, -1, -1)
    assert client.call(TAGS, {})["errcode"] == 0
    assert len(fake_wecom.calls_to(TAGS)) == 4
    assert sleeps == [0.5, 1.0, 2.0]


def test_system_busy_a_fourth_time_is_retryable_failure(
    client: WeComClient, fake_wecom: FakeWeCom, sleeps: Sleeps
) -> None:
    fake_wecom.fail_next(-1, -1, -1, -1)
    with pytest.raises(WeComError) as info:
        client.call(TAGS, {})
    assert info.value.errcode == -1 and info.value.retryable
    assert len(fake_wecom.calls_to(TAGS)) == 4


@pytest.mark.parametrize(("errcode", "wait"), [(45009, 60.0), (45033, 5.0)])
def test_rate_limits_back_off_without_retrying(
    client: WeComClient, fake_wecom: FakeWeCom, errcode: int, wait: float
) -> None:
    fake_wecom.fail_next(errcode)
    with pytest.raises(WeComError) as info:
        client.call(TAGS, {})
    assert info.value.retryable and info.value.retry_after_s == wait
    assert len(fake_wecom.calls_to(TAGS)) == 1


def test_other_errcodes_are_permanent(client: WeComClient, fake_wecom: FakeWeCom) -> None:
    fake_wecom.fail_next(40003)
    with pytest.raises(WeComError, match="errcode 40003") as info:
        client.call(TAGS, {})
    assert not info.value.retryable and info.value.code == "40003"


def test_wrong_secret_is_a_permanent_gettoken_error(fake_wecom: FakeWeCom) -> None:
    c = WeComClient(fake_wecom.corp_id, "wrong", base_url=fake_wecom.base, tokens=TokenCache())
    with pytest.raises(WeComError) as info:
        c.call(TAGS, {})
    assert info.value.errcode == 40001 and info.value.api == "gettoken" and not info.value.retryable


def test_nobody_listening_is_a_retryable_transport_error() -> None:
    c = WeComClient("ww1", "s", base_url=f"http://127.0.0.1:{free_port()}/cgi-bin/", tokens=TokenCache())
    with pytest.raises(WeComError) as info:
        c.call(TAGS, {})
    assert info.value.errcode is None and info.value.retryable


def test_base_url_comes_from_settings(fake_wecom: FakeWeCom, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SIYU_WECOM_API_BASE", fake_wecom.base.rstrip("/"))
    monkeypatch.setenv("SIYU_WECOM_CORP_ID", fake_wecom.corp_id)
    monkeypatch.setenv("SIYU_WECOM_SECRET", fake_wecom.secret)
    get_settings.cache_clear()
    try:
        c = WeComClient.from_settings(tokens=TokenCache())
        assert c.call(TAGS, {})["errcode"] == 0
    finally:
        get_settings.cache_clear()


def test_concurrent_callers_share_one_gettoken(client: WeComClient, fake_wecom: FakeWeCom) -> None:
    threads = [threading.Thread(target=client.call, args=(TAGS, {})) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert fake_wecom.token_calls == 1
    assert len(fake_wecom.calls_to(TAGS)) == 8


def test_token_cache_is_per_corp_and_app(frozen_clock: FrozenClock) -> None:
    cache = TokenCache()
    issued = iter(["a", "b", "c"])
    assert cache.get("ww1", "app1", lambda: (next(issued), 7200)) == "a"
    assert cache.get("ww1", "app2", lambda: (next(issued), 7200)) == "b"
    assert cache.get("ww1", "app1", lambda: ("never", 7200)) == "a"
    cache.invalidate("ww1", "app1", token="stale")  # only drops the token it names
    assert cache.get("ww1", "app1", lambda: ("never", 7200)) == "a"
    cache.invalidate("ww1", "app1", token="a")
    assert cache.get("ww1", "app1", lambda: (next(issued), 7200)) == "c"
    assert cache.fetches == 3


def test_short_lifetimes_refresh_half_way(frozen_clock: FrozenClock) -> None:
    cache = TokenCache()
    tokens = iter(["a", "b"])
    cache.get("ww1", "s", lambda: (next(tokens), 100))
    frozen_clock.advance(seconds=49)
    assert cache.get("ww1", "s", lambda: ("never", 100)) == "a"
    frozen_clock.advance(seconds=1)
    assert cache.get("ww1", "s", lambda: (next(tokens), 100)) == "b"
