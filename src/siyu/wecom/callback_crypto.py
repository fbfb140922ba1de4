"""WeCom callback (企业微信回调) crypto: URL verification, decrypting pushed events, encrypting replies.

msg_signature = sha1 of the sorted [token, timestamp, nonce, encrypt] joined; AES-256-CBC with
key = b64decode(EncodingAESKey + "="), IV = key[:16], PKCS#7 padding to 32-byte blocks; the plaintext is
16 random bytes + 4-byte big-endian length + message + receive id (the corp id).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import secrets
import struct
import time
from dataclasses import dataclass
from xml.parsers import expat

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings, get_settings

BLOCK = 32  # WeCom pads to 32 bytes, not AES's 16
MAX_BODY_BYTES = 256 * 1024


class CallbackRejected(ValidationFailed):
    """A callback that is not genuine or not well formed; answer 400 and do not act on it."""


def sha1_signature(token: str, timestamp: str, nonce: str, encrypt: str) -> str:
    return hashlib.sha1("".join(sorted([token, timestamp, nonce, encrypt])).encode()).hexdigest()  # noqa: S324 (WeCom's protocol)


def pkcs7_pad(data: bytes, block: int = BLOCK) -> bytes:
    n = block - len(data) % block
    return data + bytes([n]) * n


def pkcs7_unpad(data: bytes, block: int = BLOCK) -> bytes:
    if not data:
        raise CallbackRejected("empty plaintext", field="Encrypt")
    n = data[-1]
    if not 1 <= n <= block or data[-n:] != bytes([n]) * n:
        raise CallbackRejected("bad PKCS#7 padding (wrong EncodingAESKey?)", field="Encrypt")
    return data[:-n]


@dataclass(frozen=True)
class EncryptedReply:
    encrypt: str
    msg_signature: str
    timestamp: str
    nonce: str

    def xml(self) -> str:
        return (
            f"<xml><Encrypt><![CDATA[{self.encrypt}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{self.msg_signature}]]></MsgSignature>"
            f"<TimeStamp>{self.timestamp}</TimeStamp><Nonce><![CDATA[{self.nonce}]]></Nonce></xml>"
        )


class WeComCallbackCrypto:
    def __init__(self, token: str, encoding_aes_key: str, receive_id: str) -> None:
        if len(encoding_aes_key) != 43:
            raise ValidationFailed("EncodingAESKey must be 43 characters", field="encoding_aes_key")
        try:
            self.key = base64.b64decode(encoding_aes_key + "=", validate=True)
        except binascii.Error as exc:
            raise ValidationFailed("EncodingAESKey is not base64", field="encoding_aes_key") from exc
        if len(self.key) != 32:
            raise ValidationFailed("EncodingAESKey must decode to 32 bytes", field="encoding_aes_key")
        if not token or not receive_id:
            raise ValidationFailed("callback token and receive id (corp id) are required", field="token")
        self.token = token
        self.receive_id = receive_id

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> WeComCallbackCrypto:
        s = settings or get_settings()
        missing = [
            f"SIYU_{name.upper()}"
            for name in ("wecom_callback_token", "wecom_callback_aes_key", "wecom_corp_id")
            if not getattr(s, name)
        ]
        if missing:
            raise ValidationFailed(
                f"WeCom callbacks are not configured: set {', '.join(missing)}", field="wecom"
            )
        return cls(s.wecom_callback_token, s.wecom_callback_aes_key, s.wecom_corp_id)

    def _cipher(self) -> Cipher[modes.CBC]:
        return Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16]))

    def check_signature(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> None:
        expected = sha1_signature(self.token, timestamp, nonce, encrypt)
        # compare bytes: compare_digest refuses str with non-ASCII characters (a forged signature, not a 500)
        given = (msg_signature or "").lower().encode("utf-8", "replace")
        if not hmac.compare_digest(expected.encode(), given):
            raise CallbackRejected(
                "msg_signature does not match (wrong token, or a forged request)", field="msg_signature"
            )

    def verify_url(self, msg_signature: str, timestamp: str, nonce: str, echostr: str) -> str:
        """GET verification of the callback URL: the decrypted echostr to answer with."""
        return self.decrypt(msg_signature, timestamp, nonce, echostr)

    def decrypt(self, msg_signature: str, timestamp: str, nonce: str, encrypt: str) -> str:
        self.check_signature(msg_signature, timestamp, nonce, encrypt)
        try:
            raw = base64.b64decode(encrypt, validate=True)
        except binascii.Error as exc:
            raise CallbackRejected("Encrypt is not base64", field="Encrypt") from exc
        if not raw or len(raw) % 16:
            raise CallbackRejected("Encrypt is not a whole number of AES blocks", field="Encrypt")
        decryptor = self._cipher().decryptor()
        plain = pkcs7_unpad(decryptor.update(raw) + decryptor.finalize())
        if len(plain) < 20:
            raise CallbackRejected("plaintext too short", field="Encrypt")
        (length,) = struct.unpack(">I", plain[16:20])
        if 20 + length > len(plain):
            raise CallbackRejected("message length exceeds the plaintext", field="Encrypt")
        message, receive_id = plain[20 : 20 + length], plain[20 + length :]
        if receive_id.decode("utf-8", "replace") != self.receive_id:
            raise CallbackRejected(
                f"receive id {receive_id.decode('utf-8', 'replace')!r} is not this corp ({self.receive_id})",
                field="Encrypt",
            )
        try:
            return message.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise CallbackRejected("message is not UTF-8", field="Encrypt") from exc

    def encrypt(
        self,
        message: str,
        *,
        timestamp: str | None = None,
        nonce: str | None = None,
        random16: bytes | None = None,
    ) -> EncryptedReply:
        body = message.encode("utf-8")
        prefix = random16 if random16 is not None else os.urandom(16)
        if len(prefix) != 16:
            raise ValueError("random16 must be 16 bytes")
        plain = pkcs7_pad(prefix + struct.pack(">I", len(body)) + body + self.receive_id.encode())
        encryptor = self._cipher().encryptor()
        encrypt = base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()
        ts = timestamp or str(int(time.time()))
        nc = nonce or str(secrets.randbelow(10**10))
        return EncryptedReply(encrypt, sha1_signature(self.token, ts, nc, encrypt), ts, nc)

    def decrypt_body(
        self, body: bytes | str, msg_signature: str, timestamp: str, nonce: str
    ) -> dict[str, str]:
        """A POSTed callback: the outer `<xml><Encrypt>`, verified and decrypted, parsed into fields."""
        outer = parse_callback_xml(body)
        encrypt = outer.get("Encrypt")
        if not encrypt:
            raise CallbackRejected("callback body has no Encrypt element", field="Encrypt")
        return parse_callback_xml(self.decrypt(msg_signature, timestamp, nonce, encrypt))


def parse_callback_xml(body: bytes | str) -> dict[str, str]:
    """The text of the root's child elements (`<xml><ToUserName>…`). Safe against XXE and entity
    bombs: any DOCTYPE or entity declaration is refused (WeCom never sends one)."""
    data = body.encode("utf-8") if isinstance(body, str) else body
    if len(data) > MAX_BODY_BYTES:
        raise CallbackRejected("callback body too large", field="body")
    fields: dict[str, str] = {}
    path: list[str] = []
    text: list[str] = []

    def refuse(*_args: object) -> None:
        raise CallbackRejected("DOCTYPE and entity declarations are not allowed", field="body")

    def start(name: str, _attrs: dict[str, str]) -> None:
        path.append(name)
        if len(path) == 2:
            text.clear()

    def end(name: str) -> None:
        if len(path) == 2:
            fields[name] = "".join(text).strip()
        path.pop()

    def chars(value: str) -> None:
        if len(path) == 2:
            text.append(value)

    parser = expat.ParserCreate(encoding="utf-8")
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = refuse
    parser.EntityDeclHandler = refuse
    parser.ExternalEntityRefHandler = refuse  # type: ignore[assignment]
    parser.StartElementHandler = start
    parser.EndElementHandler = end
    parser.CharacterDataHandler = chars
    try:
        parser.Parse(data, True)
    except expat.ExpatError as exc:
        raise CallbackRejected(f"callback body is not XML: {exc}", field="body") from exc
    return fields
