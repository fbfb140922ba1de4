"""The WeCom callback URL (`/wecom/callback`): `GET` answers WeCom's URL verification with the decrypted
echostr, `POST` takes encrypted customer-contact events (siyu.wecom.callback) and answers `success`.

No API token: WeCom authenticates with msg_signature (token + EncodingAESKey from settings). A forged or
malformed callback is a 400 naming the field; it is never acted on.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import PlainTextResponse

from siyu.core import clock

from . import callback
from .callback_crypto import MAX_BODY_BYTES, CallbackRejected, WeComCallbackCrypto

router = APIRouter(tags=["wecom"])
PATH = "/wecom/callback"

Signature = Annotated[str, Query(min_length=1, max_length=64, description="WeCom's msg_signature")]
Timestamp = Annotated[str, Query(min_length=1, max_length=20, pattern=r"^[0-9]+$")]
Nonce = Annotated[str, Query(min_length=1, max_length=64)]
EchoStr = Annotated[str, Query(min_length=1, max_length=2048, description="Encrypted echo to decrypt")]


@router.get(PATH, summary="WeCom callback URL verification", response_class=PlainTextResponse)
def verify_url(msg_signature: Signature, timestamp: Timestamp, nonce: Nonce, echostr: EchoStr) -> str:
    crypto = WeComCallbackCrypto.from_settings()
    # base64 has no spaces: a '+' sent without URL-encoding arrives as a space after query decoding
    return crypto.verify_url(msg_signature, timestamp, nonce, echostr.replace(" ", "+"))


@router.post(PATH, summary="WeCom customer-contact events (encrypted XML)", response_class=PlainTextResponse)
async def receive(request: Request, msg_signature: Signature, timestamp: Timestamp, nonce: Nonce) -> str:
    crypto = WeComCallbackCrypto.from_settings()
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise CallbackRejected("callback body too large", field="body")
    fields = crypto.decrypt_body(body, msg_signature, timestamp, nonce)
    await run_in_threadpool(callback.handle, fields, clock.now())
    return "success"
