"""The `email` channel: SMTP (stdlib smtplib) with plain + HTML parts and one-click unsubscribe.

Headers: `List-Unsubscribe: <mailto:…>, <https://…>` and `List-Unsubscribe-Post: List-Unsubscribe=One-Click`
(RFC 2369, RFC 8058); `Message-ID` derives from the idempotency key, so a resend is recognisable.
"""

from __future__ import annotations

import hashlib
import smtplib
import ssl
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr
from typing import Any, Literal
from urllib.parse import quote

from siyu.core import clock
from siyu.core.errors import ValidationFailed
from siyu.core.pii import normalise_email
from siyu.core.settings import Settings, get_settings

from .base import OutboundMessage, SendResult, require_settings

Security = Literal["starttls", "tls", "none"]


def message_id(idempotency_key: str, domain: str) -> str:
    return f"<siyu.{hashlib.sha256(idempotency_key.encode()).hexdigest()[:32]}@{domain}>"


class EmailChannel:
    name = "email"

    def __init__(
        self,
        host: str,
        port: int,
        *,
        sender: str,
        security: Security = "starttls",
        username: str = "",
        password: str = "",
        timeout_s: float = 10.0,
        unsubscribe_mailto: str = "",
        unsubscribe_url: str = "",
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        require_settings(self.name, smtp_host=host, email_from=sender)
        self.host = host
        self.port = port
        self.sender = sender
        self.security = security
        self.username = username
        self.password = password
        self.timeout_s = timeout_s
        self.unsubscribe_mailto = unsubscribe_mailto
        self.unsubscribe_url = unsubscribe_url
        self.ssl_context = ssl_context or ssl.create_default_context()
        address = parseaddr(sender)[1]
        if "@" not in address:
            raise ValidationFailed(f"SIYU_EMAIL_FROM {sender!r} has no address", field="email_from")
        self.domain = address.rsplit("@", 1)[1]

    @classmethod
    def from_settings(cls, settings: Settings | None = None, **kwargs: Any) -> EmailChannel:
        s = settings or get_settings()
        return cls(
            s.smtp_host,
            s.smtp_port,
            sender=s.email_from,
            security=s.smtp_security,
            username=s.smtp_username,
            password=s.smtp_password,
            timeout_s=s.channel_timeout_s,
            unsubscribe_mailto=s.email_unsubscribe_mailto,
            unsubscribe_url=s.email_unsubscribe_url,
            **kwargs,
        )

    def unsubscribe_links(self, message: OutboundMessage) -> list[str]:
        links = []
        if self.unsubscribe_mailto:
            subject = quote(f"unsubscribe {message.idempotency_key}")
            links.append(f"mailto:{self.unsubscribe_mailto}?subject={subject}")
        url = message.unsubscribe_url
        if not url and self.unsubscribe_url and message.customer_id is not None:
            url = self.unsubscribe_url.format(
                customer_id=message.customer_id, key=quote(message.idempotency_key)
            )
        if url:
            if not url.startswith("https://"):
                raise ValidationFailed("one-click unsubscribe URLs must be https", field="unsubscribe_url")
            links.append(url)
        return links

    def build(self, message: OutboundMessage) -> EmailMessage:
        """The MIME message, or ValidationFailed (bad address; marketing without an unsubscribe URL)."""
        recipient = normalise_email(message.recipient)
        links = self.unsubscribe_links(message)
        has_one_click = any(link.startswith("https://") for link in links)
        if message.purpose == "marketing" and not has_one_click:
            raise ValidationFailed(
                "a marketing email needs a one-click unsubscribe URL (message or SIYU_EMAIL_UNSUBSCRIBE_URL)",
                field="unsubscribe_url",
            )
        mail = EmailMessage()
        mail["From"] = self.sender
        mail["To"] = Address(addr_spec=recipient)
        mail["Subject"] = message.subject or ""
        mail["Date"] = format_datetime(clock.now())
        mail["Message-ID"] = message_id(message.idempotency_key, self.domain)
        if links:
            mail["List-Unsubscribe"] = ", ".join(f"<{link}>" for link in links)
        if has_one_click:
            mail["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        mail.set_content(message.body or "")
        if message.html_body:
            mail.add_alternative(message.html_body, subtype="html")
        return mail

    def send(self, message: OutboundMessage) -> SendResult:
        try:
            mail = self.build(message)
        except ValidationFailed as exc:
            return SendResult.permanent("invalid_message", exc.message)
        try:
            with self._connect() as smtp:
                refused = smtp.send_message(mail)
        except smtplib.SMTPRecipientsRefused as exc:
            code, reply = next(iter(exc.recipients.values()))
            return _smtp_failure(code, reply)
        except smtplib.SMTPResponseException as exc:
            return _smtp_failure(exc.smtp_code, exc.smtp_error)
        except (smtplib.SMTPException, OSError) as exc:  # connection refused, timeout, TLS failure
            return SendResult.retryable("smtp_unavailable", f"{type(exc).__name__}: {exc}", 60.0)
        if refused:
            code, reply = next(iter(refused.values()))
            return _smtp_failure(code, reply)
        return SendResult.sent(str(mail["Message-ID"]))

    def _connect(self) -> smtplib.SMTP:
        if self.security == "tls":
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_s, context=self.ssl_context
            )
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout_s)
        try:
            if self.security == "starttls":
                smtp.starttls(context=self.ssl_context)
            if self.username:
                smtp.login(self.username, self.password)
        except BaseException:
            smtp.close()
            raise
        return smtp


def _smtp_failure(code: int, reply: bytes | str) -> SendResult:
    text = reply.decode("utf-8", "replace") if isinstance(reply, bytes) else str(reply)
    if 400 <= code < 500:
        return SendResult.retryable(f"smtp_{code}", text, 300.0)
    return SendResult.permanent(f"smtp_{code}", text)
