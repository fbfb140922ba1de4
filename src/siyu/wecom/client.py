"""WeCom server API transport: `gettoken`, then `call(api, body)` with WeCom's retry rules.

Rules: an expired/invalid token (40014, 42001) is refetched and the call retried once; system busy (-1)
is retried at most 3 times with back-off; rate limits (45009, 45033) and everything else are raised.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any, Literal

import httpx

from siyu.core.settings import Settings, get_settings

from .errors import SYSTEM_BUSY, TOKEN_ERRORS, WeComError, error_for
from .token import TokenCache, shared_tokens

DEFAULT_API_BASE = "https://qyapi.weixin.qq.com/cgi-bin/"


class WeComClient:
    """One corp + app. Thread-safe (httpx.Client and the token cache are)."""

    def __init__(
        self,
        corp_id: str,
        secret: str,
        *,
        base_url: str = DEFAULT_API_BASE,
        timeout_s: float = 10.0,
        agent_id: int | None = None,
        tokens: TokenCache | None = None,
        http: httpx.Client | None = None,
        sleep: Callable[[float], None] = time.sleep,
        busy_retries: int = 3,
        busy_backoff_s: float = 0.5,
    ) -> None:
        if not corp_id or not secret:
            raise ValueError("WeComClient needs a corp id and an app secret")
        self.corp_id = corp_id
        self.secret = secret
        self.agent_id = agent_id
        self.base_url = base_url if base_url.endswith("/") else base_url + "/"
        self.tokens = tokens if tokens is not None else shared_tokens
        self._http = http or httpx.Client(timeout=httpx.Timeout(timeout_s))
        self._owns_http = http is None
        self._sleep = sleep
        self.busy_retries = busy_retries
        self.busy_backoff_s = busy_backoff_s

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> WeComClient:
        s = settings or get_settings()
        return cls(
            s.wecom_corp_id,
            s.wecom_secret,
            base_url=s.wecom_api_base,
            timeout_s=s.channel_timeout_s,
            agent_id=s.wecom_agent_id,
            **kwargs,
        )

    def close(self) -> None:
        if self._owns_http:
            self._http.close()

    def access_token(self) -> str:
        return self.tokens.get(self.corp_id, self.secret, self.fetch_token)

    def fetch_token(self) -> tuple[str, int]:
        """`gettoken` (GET, corpid + corpsecret); -1 is retried like any other call."""
        query = {"corpid": self.corp_id, "corpsecret": self.secret}
        data = self._with_busy_retries("gettoken", lambda: self._request("GET", "gettoken", query, None))
        token = data.get("access_token")
        if not isinstance(token, str) or not token:
            raise WeComError(
                None, "gettoken answered without an access_token", api="gettoken", retryable=True
            )
        return token, int(data.get("expires_in", 7200))

    def call(
        self,
        api: str,
        body: Mapping[str, Any] | None = None,
        *,
        method: Literal["GET", "POST"] = "POST",
        query: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Call `api` (relative to the base, e.g. "externalcontact/add_msg_template"); the answer's JSON
        with errcode 0, or WeComError."""
        refetched = False
        while True:
            token = self.access_token()
            params = {**(query or {}), "access_token": token}
            try:
                return self._with_busy_retries(api, partial(self._request, method, api, params, body))
            except WeComError as exc:
                if exc.errcode in TOKEN_ERRORS and not refetched:
                    self.tokens.invalidate(self.corp_id, self.secret, token)
                    refetched = True
                    continue
                raise

    def _with_busy_retries(self, api: str, attempt: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        busy = 0
        while True:
            data = attempt()
            errcode = int(data.get("errcode", 0) or 0)
            if errcode == 0:
                return data
            errmsg = str(data.get("errmsg", ""))
            if errcode == SYSTEM_BUSY and busy < self.busy_retries:
                busy += 1
                self._sleep(self.busy_backoff_s * 2 ** (busy - 1))
                continue
            if errcode in TOKEN_ERRORS:
                raise WeComError(errcode, errmsg, api=api)  # call() refetches the token
            raise error_for(errcode, errmsg, api)

    def _request(
        self, method: str, api: str, query: Mapping[str, str], body: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        url = self.base_url + api.lstrip("/")
        try:
            if method == "GET":
                response = self._http.get(url, params=dict(query))
            else:
                response = self._http.post(url, params=dict(query), json=dict(body or {}))
        except httpx.TimeoutException as exc:
            raise WeComError(None, f"timed out: {exc}", api=api, retryable=True, retry_after_s=5.0) from exc
        except httpx.HTTPError as exc:
            raise WeComError(None, f"{type(exc).__name__}: {exc}", api=api, retryable=True) from exc
        if response.status_code >= 500:
            raise WeComError(None, f"HTTP {response.status_code}", api=api, retryable=True, retry_after_s=5.0)
        if response.status_code != 200:
            raise WeComError(None, f"HTTP {response.status_code}", api=api)
        try:
            data = response.json()
        except ValueError as exc:
            raise WeComError(None, "answer is not JSON", api=api, retryable=True) from exc
        if not isinstance(data, dict):
            raise WeComError(None, "answer is not a JSON object", api=api, retryable=True)
        return data
