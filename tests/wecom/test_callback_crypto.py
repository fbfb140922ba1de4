"""WeCom callback crypto against WeCom's published samples, plus round trips and forged inputs."""

from __future__ import annotations

import base64

import pytest
from hypothesis import given
from hypothesis import strategies as st

from siyu.core.errors import ValidationFailed
from siyu.wecom.callback_crypto import (
    CallbackRejected,
    WeComCallbackCrypto,
    parse_callback_xml,
    pkcs7_pad,
    pkcs7_unpad,
    sha1_signature,
)

# Tencent's callback sample code (DESIGN.md "Protocols we speak").
SAMPLE = WeComCallbackCrypto(
    "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww1436e0e65a779aee"
)
ECHOSTR = "fsi1xnbH4yQh0+PJxcOdhhK6TDXkjMyhEPA7xB2TGz6b+g7xyAbEkRxN/3cNXW9qdqjnoVzEtpbhnFyq6SVHyA=="

# WeCom's worked example (加解密方案说明, 举例说明): company wx5823bf96d3bd56c7.
DOC = WeComCallbackCrypto("QDG6eK", "jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C", "wx5823bf96d3bd56c7")
DOC_ENCRYPT = (
    "RypEvHKD8QQKFhvQ6QleEB4J58tiPdvo+rtK1I9qca6aM/wvqnLSV5zEPeusUiX5L5X/0lWfrf0QADHHhGd3QczcdCUpj911L3vg3W/sYYvu"
    "JTs3TUUkSUXxaccAS0qhxchrRYt66wiSpGLYL42aM6A8dTT+6k4aSknmPj48kzJs8qLjvd4Xgpue06DOdnLxAUHzM6+kDZ+HMZfJYuR+LtwG"
    "c2hgf5gsijff0ekUNXZiqATP7PF5mZxZ3Izoun1s4zG4LUMnvw2r+KqCKIw+3IQH03v+BCA9nMELNqbSf6tiWSrXJB3LAVGUcallcrw8V2t9"
    "EL4EhzJWrQUax5wLVMNS0+rUPA3k22Ncx4XXZS9o0MBH27Bo6BpNelZpS+/uh9KsNlY6bHCmJU9p8g7m3fVKn28H3KDYA5Pl/T8Z1ptDAVe0"
    "lXdQ2YoyyH2uyPIGHBZZIs2pDBS8R07+qN+E7Q=="
)
DOC_BODY = (
    "<xml><ToUserName><![CDATA[wx5823bf96d3bd56c7]]></ToUserName>"
    f"<Encrypt><![CDATA[{DOC_ENCRYPT}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
)


def test_published_url_verification_sample() -> None:
    plain = SAMPLE.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHOSTR)
    assert plain == "1288432023552776189"


def test_published_worked_example_url_and_message() -> None:
    echostr = "P9nAzCzyDtyTWESHep1vC5X9xho/qYX3Zpb4yKa9SKld1DsH3Iyt3tP3zNdtp+4RPcs8TgAE7OaBO+FZXvnaqQ=="
    assert DOC.verify_url("5c45ff5e21c57e6ad56bac8758b79b1d9ac89fd3", "1409659589", "263014780", echostr)
    fields = DOC.decrypt_body(
        DOC_BODY, "477715d11cdb4164915debcba66cb864d751f3e6", "1409659813", "1372623149"
    )
    assert fields == {
        "ToUserName": "wx5823bf96d3bd56c7",
        "FromUserName": "mycreate",
        "CreateTime": "1409659813",
        "MsgType": "text",
        "Content": "hello",
        "MsgId": "4561255354251345929",
        "AgentID": "218",
    }


def test_signature_is_sha1_of_the_sorted_parts() -> None:
    assert sha1_signature(SAMPLE.token, "1476416373", "47744683", ECHOSTR) == (
        "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb"
    )


def test_encrypt_then_decrypt_round_trip_and_reply_xml() -> None:
    reply = SAMPLE.encrypt(
        "<xml><Content><![CDATA[你好]]></Content></xml>", timestamp="1700000000", nonce="42"
    )
    assert len(base64.b64decode(reply.encrypt)) % 32 == 0  # padded to 32-byte blocks
    assert SAMPLE.decrypt(reply.msg_signature, reply.timestamp, reply.nonce, reply.encrypt).endswith("</xml>")
    fields = parse_callback_xml(reply.xml())
    assert fields["MsgSignature"] == reply.msg_signature and fields["TimeStamp"] == "1700000000"
    assert SAMPLE.decrypt_body(reply.xml(), reply.msg_signature, "1700000000", "42") == {"Content": "你好"}


@given(st.text(max_size=300))
def test_round_trip_any_message(message: str) -> None:
    reply = DOC.encrypt(message, timestamp="1", nonce="2")
    assert DOC.decrypt(reply.msg_signature, "1", "2", reply.encrypt) == message


@given(st.binary(max_size=100))
def test_pkcs7_pads_to_32_and_unpads(data: bytes) -> None:
    padded = pkcs7_pad(data)
    assert len(padded) % 32 == 0 and len(padded) > len(data)
    assert pkcs7_unpad(padded) == data


def test_wrong_signature_is_rejected() -> None:
    with pytest.raises(CallbackRejected, match="msg_signature does not match") as info:
        SAMPLE.verify_url("0" * 40, "1476416373", "47744683", ECHOSTR)
    assert info.value.field == "msg_signature"
    with pytest.raises(CallbackRejected, match="msg_signature"):  # a replay with another timestamp
        SAMPLE.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416374", "47744683", ECHOSTR)


def test_other_corp_is_rejected() -> None:
    other = WeComCallbackCrypto(
        SAMPLE.token, "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt", "ww0000000000000000"
    )
    with pytest.raises(CallbackRejected, match="is not this corp"):
        other.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHOSTR)


def test_wrong_key_gives_a_padding_error() -> None:
    wrong = WeComCallbackCrypto(SAMPLE.token, "A" * 43, SAMPLE.receive_id)
    with pytest.raises(CallbackRejected, match=r"padding|length|receive id"):
        wrong.verify_url("012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHOSTR)


def test_bad_padding_bytes_are_rejected() -> None:
    with pytest.raises(CallbackRejected, match="padding"):
        pkcs7_unpad(b"x" * 31 + bytes([33]))
    with pytest.raises(CallbackRejected, match="padding"):
        pkcs7_unpad(b"x" * 30 + bytes([1, 2]))


def test_malformed_ciphertext_is_rejected() -> None:
    for encrypt, message in [
        ("not base64!!", "not base64"),
        (base64.b64encode(b"short").decode(), "AES blocks"),
    ]:
        sig = sha1_signature(SAMPLE.token, "1", "2", encrypt)
        with pytest.raises(CallbackRejected, match=message):
            SAMPLE.decrypt(sig, "1", "2", encrypt)


def test_bad_encoding_aes_key_is_refused() -> None:
    with pytest.raises(ValidationFailed, match="43 characters"):
        WeComCallbackCrypto("t", "short", "ww1")
    with pytest.raises(ValidationFailed, match="base64"):
        WeComCallbackCrypto("t", "!" * 43, "ww1")


def test_xml_parser_refuses_xxe_and_entity_bombs() -> None:
    xxe = b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file:///etc/passwd">]><xml><A>&e;</A></xml>'
    bomb = b'<!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;">]><xml><A>&b;</A></xml>'
    for body in (xxe, bomb):
        with pytest.raises(CallbackRejected, match="DOCTYPE"):
            parse_callback_xml(body)
    with pytest.raises(CallbackRejected, match="not XML"):
        parse_callback_xml(b"<xml><A>&undefined;</A></xml>")
    with pytest.raises(CallbackRejected, match="not XML"):
        parse_callback_xml(b"<xml><A>")
    with pytest.raises(CallbackRejected, match="too large"):
        parse_callback_xml(b"<xml>" + b" " * 300_000 + b"</xml>")


def test_body_without_encrypt_is_rejected() -> None:
    with pytest.raises(CallbackRejected, match="no Encrypt"):
        SAMPLE.decrypt_body("<xml><ToUserName>x</ToUserName></xml>", "s", "1", "2")


def test_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    from siyu.core.settings import get_settings

    get_settings.cache_clear()
    try:
        with pytest.raises(ValidationFailed, match="SIYU_WECOM_CALLBACK_TOKEN, SIYU_WECOM_CALLBACK_AES_KEY"):
            WeComCallbackCrypto.from_settings()
        monkeypatch.setenv("SIYU_WECOM_CALLBACK_TOKEN", SAMPLE.token)
        monkeypatch.setenv("SIYU_WECOM_CALLBACK_AES_KEY", "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt")
        monkeypatch.setenv("SIYU_WECOM_CORP_ID", SAMPLE.receive_id)
        get_settings.cache_clear()
        crypto = WeComCallbackCrypto.from_settings()
        assert crypto.verify_url(
            "012bc692d0a58dd4b10f8dfe5c4ac00ae211ebeb", "1476416373", "47744683", ECHOSTR
        )
    finally:
        get_settings.cache_clear()


@pytest.mark.parametrize("signature", ["签名" * 20, "\udcff" * 40, "é" + "0" * 39])
def test_a_non_ascii_signature_is_rejected_not_an_error(signature: str) -> None:
    with pytest.raises(CallbackRejected) as caught:
        SAMPLE.verify_url(signature, "1476416373", "47744683", ECHOSTR)
    assert caught.value.field == "msg_signature"
