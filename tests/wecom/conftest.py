"""Fixtures: the fake WeCom server and a client pointed at it with its own token cache."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from siyu.wecom.client import WeComClient
from siyu.wecom.token import TokenCache
from tests.fixtures.fake_providers import FakeWeCom, fake_wecom

__all__ = ["fake_wecom"]


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def client(fake_wecom: FakeWeCom, sleeps: Sleeps) -> Iterator[WeComClient]:
    c = WeComClient(
        fake_wecom.corp_id, fake_wecom.secret, base_url=fake_wecom.base, tokens=TokenCache(), sleep=sleeps
    )
    yield c
    c.close()
