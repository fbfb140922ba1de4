"""Building WeCom callbacks as WeCom sends them: the event XML, encrypted and signed with the callback
token and EncodingAESKey, wrapped in the outer `<xml><Encrypt>` body, with the query string."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from siyu.core import clock
from siyu.core.settings import get_settings
from siyu.wecom.callback_crypto import WeComCallbackCrypto

# Tencent's callback sample code (DESIGN.md "Protocols we speak").
TOKEN = "hJqcu3uJ9Tn2gXPmxx2w9kkCkCE2EPYo"
AES_KEY = "6qkdMrq68nTKduznJYO1A37W2oEgpkMUvkttRToqhUt"
CORP_ID = "ww1436e0e65a779aee"
CRYPTO = WeComCallbackCrypto(TOKEN, AES_KEY, CORP_ID)


def event_xml(change_type: str, external: str = "wmNEW1", userid: str = "zhangsan", **extra: Any) -> str:
    fields = {
        "ToUserName": CORP_ID,
        "FromUserName": "sys",
        "CreateTime": str(int(clock.now().timestamp())),
        "MsgType": "event",
        "Event": "change_external_contact",
        "ChangeType": change_type,
        "UserID": userid,
        "ExternalUserID": external,
        **{k: str(v) for k, v in extra.items()},
    }
    inner = "".join(f"<{k}><![CDATA[{v}]]></{k}>" for k, v in fields.items() if v is not None)
    return f"<xml>{inner}</xml>"


def signed(plain: str, crypto: WeComCallbackCrypto = CRYPTO) -> tuple[dict[str, str], str]:
    """(query, body) of a POSTed callback carrying `plain`."""
    reply = crypto.encrypt(plain, timestamp=str(int(clock.now().timestamp())), nonce="1372623149")
    body = (
        f"<xml><ToUserName><![CDATA[{crypto.receive_id}]]></ToUserName>"
        f"<Encrypt><![CDATA[{reply.encrypt}]]></Encrypt><AgentID><![CDATA[218]]></AgentID></xml>"
    )
    query = {"msg_signature": reply.msg_signature, "timestamp": reply.timestamp, "nonce": reply.nonce}
    return query, body


@pytest.fixture
def wecom_callback_settings(db_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[Callable[[], None]]:
    """SIYU_WECOM_CALLBACK_TOKEN / _AES_KEY / SIYU_WECOM_CORP_ID set to the published sample's."""
    values = {"WECOM_CALLBACK_TOKEN": TOKEN, "WECOM_CALLBACK_AES_KEY": AES_KEY, "WECOM_CORP_ID": CORP_ID}
    for key, value in values.items():
        monkeypatch.setenv(f"SIYU_{key}", value)
    get_settings.cache_clear()

    def unset() -> None:
        for key in values:
            monkeypatch.delenv(f"SIYU_{key}")
        get_settings.cache_clear()

    yield unset
    get_settings.cache_clear()
