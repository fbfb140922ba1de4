"""WeCom errcodes siyu acts on, and the one exception a WeCom call raises when it does not succeed.

Token errors are handled inside the client (refetch once); what reaches the caller is either retryable
(system busy after retries, rate limits, network) or permanent (everything else, with the errcode).
"""

from __future__ import annotations

SYSTEM_BUSY = -1
INVALID_ACCESS_TOKEN = 40014
ACCESS_TOKEN_EXPIRED = 42001
TOKEN_ERRORS = frozenset({INVALID_ACCESS_TOKEN, ACCESS_TOKEN_EXPIRED})
API_FREQ_LIMIT = 45009  # calls per minute over the limit
API_CONCURRENCY_LIMIT = 45033  # concurrent calls over the limit
RATE_LIMITS = {API_FREQ_LIMIT: 60.0, API_CONCURRENCY_LIMIT: 5.0}  # errcode -> seconds to wait
WELCOME_ALREADY_SENT = 41051

MASS_SEND_MAX_RECIPIENTS = 10_000
TRANSFER_MAX_CUSTOMERS = 100


class WeComError(Exception):
    """A WeCom call that did not succeed. `errcode` is None for transport failures (timeout, 5xx)."""

    def __init__(
        self,
        errcode: int | None,
        errmsg: str,
        *,
        api: str = "",
        retryable: bool = False,
        retry_after_s: float | None = None,
    ) -> None:
        where = f" ({api})" if api else ""
        label = "transport" if errcode is None else f"errcode {errcode}"
        super().__init__(f"WeCom {label}{where}: {errmsg}")
        self.errcode = errcode
        self.errmsg = errmsg
        self.api = api
        self.retryable = retryable
        self.retry_after_s = retry_after_s

    @property
    def code(self) -> str:
        return "transport" if self.errcode is None else str(self.errcode)


def error_for(errcode: int, errmsg: str, api: str, *, busy_retry_after_s: float = 5.0) -> WeComError:
    """The exception for a non-zero errcode that the client will not retry itself any more."""
    if errcode in RATE_LIMITS:
        return WeComError(errcode, errmsg, api=api, retryable=True, retry_after_s=RATE_LIMITS[errcode])
    if errcode == SYSTEM_BUSY:
        return WeComError(errcode, errmsg, api=api, retryable=True, retry_after_s=busy_retry_after_s)
    return WeComError(errcode, errmsg, api=api, retryable=False)
