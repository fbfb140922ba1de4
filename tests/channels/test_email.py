"""The email channel against a local aiosmtpd server: headers, parts, STARTTLS + AUTH, SMTP errors."""

from __future__ import annotations

import datetime as dt
import ipaddress
import ssl
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from siyu.channels.base import SendStatus
from siyu.channels.email import EmailChannel, message_id
from siyu.devtools.pg_server import free_port

from .conftest import message


class Inbox:
    """aiosmtpd handler: keeps what it receives; `refuse` answers RCPT with that reply instead."""

    def __init__(self) -> None:
        self.mails: list[EmailMessage] = []
        self.envelopes: list[Any] = []
        self.refuse: str | None = None
        self.logins: list[tuple[bytes, bytes]] = []

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        if self.refuse:
            return self.refuse
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.envelopes.append(envelope)
        self.mails.append(message_from_bytes(envelope.content, policy=policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"

    def authenticate(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
        assert isinstance(data, LoginPassword)
        self.logins.append((data.login, data.password))
        return AuthResult(
            success=data.password == b"pw", handled=False
        )  # handled=False: aiosmtpd answers 535


@pytest.fixture
def smtp() -> Iterator[tuple[Controller, Inbox]]:
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield controller, inbox
    controller.stop()


def channel(port: int, **kwargs: Any) -> EmailChannel:
    options: dict[str, Any] = {
        "sender": "思域商城 <hello@shop.example>",
        "security": "none",
        "unsubscribe_mailto": "unsubscribe@shop.example",
        "unsubscribe_url": "https://shop.example/u/{customer_id}?k={key}",
        "timeout_s": 5,
    }
    options.update(kwargs)
    return EmailChannel("127.0.0.1", port, **options)


def email(**overrides: object) -> Any:
    fields: dict[str, object] = {
        "channel": "email",
        "recipient": "Li.Lei@Example.com",
        "purpose": "marketing",
        "subject": "会员日专享",
        "body": "会员日 8 折",
        "html_body": "<p>会员日 <b>8 折</b></p>",
        "idempotency_key": "j1:s3:c7",
    }
    fields.update(overrides)
    return message(**fields)


def test_marketing_email_has_one_click_unsubscribe_and_both_parts(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    result = channel(controller.port).send(email())
    assert result.status is SendStatus.SENT
    (mail,) = inbox.mails
    assert inbox.envelopes[0].rcpt_tos == ["li.lei@example.com"]
    assert mail["Subject"] == "会员日专享" and "hello@shop.example" in mail["From"]
    assert mail["List-Unsubscribe"].strip() == (
        "<mailto:unsubscribe@shop.example?subject=unsubscribe%20j1%3As3%3Ac7>, <https://shop.example/u/7?k=j1%3As3%3Ac7>"
    )
    assert mail["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert mail["Message-ID"] == message_id("j1:s3:c7", "shop.example") == result.provider_message_id
    assert mail.get_content_type() == "multipart/alternative"
    plain = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert plain is not None and plain.get_content().strip() == "会员日 8 折"
    assert html is not None and "<b>8 折</b>" in html.get_content()


def test_message_id_is_stable_per_idempotency_key(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    ch = channel(controller.port)
    ch.send(email())
    ch.send(email())
    ch.send(email(idempotency_key="other"))
    ids = [m["Message-ID"] for m in inbox.mails]
    assert ids[0] == ids[1] != ids[2]


def test_marketing_without_unsubscribe_url_is_refused(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    result = channel(controller.port, unsubscribe_url="").send(email())
    assert result.status is SendStatus.FAILED_PERMANENT and "unsubscribe" in (result.error_message or "")
    assert inbox.mails == []


def test_transactional_mail_without_unsubscribe_goes_out(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    ch = channel(controller.port, unsubscribe_url="", unsubscribe_mailto="")
    assert ch.send(email(purpose="transactional", html_body=None, unsubscribe_url=None)).ok
    (mail,) = inbox.mails
    assert mail["List-Unsubscribe"] is None and mail["List-Unsubscribe-Post"] is None
    assert mail.get_content_type() == "text/plain"


def test_message_unsubscribe_url_wins_and_must_be_https(smtp: tuple[Controller, Inbox]) -> None:
    controller, inbox = smtp
    ch = channel(controller.port)
    assert ch.send(email(unsubscribe_url="https://t.example/x/abc")).ok
    assert "<https://t.example/x/abc>" in inbox.mails[0]["List-Unsubscribe"]
    insecure = ch.send(email(idempotency_key="2", unsubscribe_url="http://t.example/x"))
    assert insecure.status is SendStatus.FAILED_PERMANENT and "https" in (insecure.error_message or "")


@pytest.mark.parametrize(
    ("reply", "status", "code"),
    [
        ("550 5.1.1 no such user", SendStatus.FAILED_PERMANENT, "smtp_550"),
        ("451 4.7.1 greylisted", SendStatus.FAILED_RETRYABLE, "smtp_451"),
    ],
)
def test_refused_recipients(
    smtp: tuple[Controller, Inbox], reply: str, status: SendStatus, code: str
) -> None:
    controller, inbox = smtp
    inbox.refuse = reply
    result = channel(controller.port).send(email())
    assert (result.status, result.error_code) == (status, code)
    assert reply.split(" ", 1)[1] in (result.error_message or "")


def test_bad_address_and_unreachable_server() -> None:
    port = free_port()
    assert channel(port).send(email(recipient="not-an-email")).error_code == "invalid_message"
    down = channel(port).send(email())
    assert down.status is SendStatus.FAILED_RETRYABLE and down.error_code == "smtp_unavailable"


def _self_signed(tmp: Path) -> tuple[ssl.SSLContext, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), True)
        .sign(key, hashes.SHA256())
    )
    (tmp / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    server = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    server.load_cert_chain(tmp / "cert.pem", tmp / "key.pem")
    return server, ssl.create_default_context(cafile=str(tmp / "cert.pem"))


def test_starttls_and_login(tmp_path: Path) -> None:
    server_tls, client_tls = _self_signed(tmp_path)
    inbox = Inbox()
    controller = Controller(
        inbox,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=server_tls,
        require_starttls=True,
        authenticator=inbox.authenticate,
    )
    controller.start()
    try:
        good = channel(
            controller.port, security="starttls", ssl_context=client_tls, username="shop", password="pw"
        )
        assert good.send(email()).status is SendStatus.SENT
        assert inbox.logins == [(b"shop", b"pw")] and len(inbox.mails) == 1
        bad = channel(
            controller.port, security="starttls", ssl_context=client_tls, username="shop", password="no"
        )
        result = bad.send(email(idempotency_key="2"))
        assert result.status is SendStatus.FAILED_PERMANENT and result.error_code == "smtp_535"
        untrusted = channel(controller.port, security="starttls")  # default trust store: self-signed refused
        assert untrusted.send(email(idempotency_key="3")).status is SendStatus.FAILED_RETRYABLE
        assert len(inbox.mails) == 1
    finally:
        controller.stop()
