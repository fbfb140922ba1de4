"""How long a rendered message may be on each channel, and how providers count it.

- SMS (Aliyun, Tencent, mainland China): signature with its 【】 + text, every character (Chinese, Latin,
  digit, punctuation, full or half width) counts 1; up to 70 is one billed message, longer is split into
  67-character segments; providers accept 500 characters in all (setting `template_sms_max_chars`).
- WeCom text (`add_msg_template`, `send_welcome_msg`): 4000 bytes of UTF-8 (a Chinese character is 3).
- Email and webhook bodies: siyu's own caps (settings), not a protocol limit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

from siyu.core.settings import Settings

from .policy import channel_family

SMS_SINGLE = 70
SMS_SEGMENT = 67


@dataclass(frozen=True)
class LengthCheck:
    channel: str
    unit: Literal["chars", "bytes"]
    length: int
    limit: int | None  # None: the channel has no limit
    segments: int | None = None  # SMS: billed messages

    @property
    def ok(self) -> bool:
        return self.limit is None or self.length <= self.limit

    def texts(self) -> tuple[str, str]:
        """(zh, en) summary for the template editor's preview."""
        unit_zh = "字" if self.unit == "chars" else "字节"
        limit_zh = f" / 上限 {self.limit}{unit_zh}" if self.limit is not None else ""
        limit_en = f" of {self.limit} {self.unit}" if self.limit is not None else f" {self.unit}"
        billed_zh = f",按 {self.segments} 条计费" if self.segments else ""
        billed_en = f", billed as {self.segments} message(s)" if self.segments else ""
        zh = f"{self.channel}:{self.length}{unit_zh}{limit_zh}{billed_zh}"
        en = f"{self.channel}: {self.length}{limit_en}{billed_en}"
        if not self.ok:
            zh, en = f"{zh}(超出上限)", f"{en} (over the limit)"
        return zh, en


def sms_segments(length: int) -> int:
    return 1 if length <= SMS_SINGLE else math.ceil(length / SMS_SEGMENT)


def measure(channel: str, text: str, settings: Settings, *, signature: str = "") -> LengthCheck:
    """Length of `text` as `channel`'s provider counts it, against the configured limit."""
    family = channel_family(channel)
    if family == "sms":
        length = len(text) + (len(signature) + 2 if signature else 0)  # 【】 are added by the provider
        return LengthCheck(family, "chars", length, settings.template_sms_max_chars, sms_segments(length))
    size = len(text.encode("utf-8"))
    limits = {
        "wecom": settings.template_wecom_max_bytes,
        "email": settings.template_email_max_bytes,
        "webhook": settings.template_webhook_max_bytes,
    }
    return LengthCheck(family, "bytes", size, limits.get(family))
