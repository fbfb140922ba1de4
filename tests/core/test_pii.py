"""Personal-data primitives: normalisation, encryption round trips, key rotation, blind index, masking."""

from __future__ import annotations

import base64

import pytest

from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault, mask, normalise_email, normalise_phone
from siyu.core.settings import Settings


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("13912345678", "+8613912345678"),
        ("+86 139-1234-5678", "+8613912345678"),
        ("(139) 1234 5678", "+8613912345678"),
    ],
)
def test_phones_normalise_to_e164(raw: str, expected: str) -> None:
    assert normalise_phone(raw) == expected


@pytest.mark.parametrize("raw", ["0139bad", "call me", "12", "+86 139 1234 5678 ext 9"])
def test_implausible_phones_are_refused(raw: str) -> None:
    with pytest.raises(ValidationFailed) as info:
        normalise_phone(raw)
    assert info.value.field == "phone"


def test_emails_are_lower_cased_and_checked() -> None:
    assert normalise_email("  Zhang.San@Example.COM ") == "zhang.san@example.com"
    with pytest.raises(ValidationFailed):
        normalise_email("not-an-email")


def test_encryption_round_trip_and_rotation() -> None:
    old_key = base64.b64encode(b"0" * 32).decode()
    new_key = base64.b64encode(b"1" * 32).decode()
    old = Vault(Settings(pii_keys={"k1": old_key}, pii_active_key_id="k1"))
    token = old.encrypt(b"13912345678")
    assert token.startswith("k1$") and b"13912345678" not in token.encode()
    assert old.encrypt(b"13912345678") != token  # random nonce
    rotated = Vault(Settings(pii_keys={"k1": old_key, "k2": new_key}, pii_active_key_id="k2"))
    assert rotated.decrypt(token) == b"13912345678"  # old data still readable
    assert rotated.encrypt(b"x").startswith("k2$")
    with pytest.raises(KeyError, match="k2"):
        old.decrypt(rotated.encrypt(b"x"))


def test_blind_index_is_keyed_and_stable() -> None:
    a = Vault(Settings(blind_index_key="one"))
    b = Vault(Settings(blind_index_key="two"))
    assert a.blind_index("phone", "+8613912345678") == a.blind_index("phone", "+8613912345678")
    assert a.blind_index("phone", "+8613912345678") != b.blind_index("phone", "+8613912345678")
    assert "13912345678" not in a.blind_index("phone", "+8613912345678")


def test_chinese_and_english_personal_trait_names() -> None:
    vault = Vault(Settings())
    for name in (
        "phone",
        "Email",
        "first_name",
        "lastName",
        "address",
        "姓名",
        "手机号",
        "收货地址",
        "身份证号",
    ):
        assert vault.is_pii_name(name), name
    for name in ("plan", "city", "skin_type", "会员等级"):
        assert not vault.is_pii_name(name), name


def test_masks() -> None:
    assert mask("phone", "+8613812345678") == "138****5678"
    assert mask("email", "zhang@example.com") == "z***@example.com"
    assert mask("text", "张三") == "张*"
