"""Who the demo customers are: Chinese names, CN mobile numbers, cities, birthdays, skin types and the
ids each channel knows them by. Pure functions of a `random.Random` and the customer's number.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass
from datetime import date
from functools import lru_cache

SURNAMES: tuple[tuple[str, int], ...] = (
    ("王", 72), ("李", 71), ("张", 68), ("刘", 55), ("陈", 45), ("杨", 31), ("黄", 24), ("赵", 22),
    ("吴", 21), ("周", 20), ("徐", 16), ("孙", 15), ("马", 14), ("朱", 13), ("胡", 12), ("郭", 12),
    ("何", 11), ("林", 11), ("高", 11), ("罗", 10), ("郑", 10), ("梁", 9), ("谢", 8), ("宋", 7),
    ("唐", 7), ("许", 7), ("韩", 6), ("冯", 6), ("邓", 6), ("曹", 6), ("彭", 6), ("曾", 5),
    ("萧", 5), ("田", 5), ("董", 5), ("潘", 4), ("袁", 4), ("蔡", 4), ("蒋", 4), ("余", 4),
    ("叶", 4), ("杜", 4), ("苏", 4), ("魏", 4), ("程", 4), ("吕", 4), ("丁", 3), ("沈", 3),
    ("欧阳", 1), ("司马", 1), ("上官", 1),
)  # fmt: skip
FEMALE_CHARS = "婷雅静怡欣悦思雨佳琳晓梦诗涵梓萱可馨若曦慧敏颖倩丽娜芳燕洁蕾楠妍月瑶菲雪蓉薇琪露"
MALE_CHARS = "伟强磊军洋勇杰涛明超辉刚浩宇轩博文凯鹏飞俊鑫峰亮健彬"

CITIES: tuple[tuple[str, int], ...] = (
    ("上海", 14), ("北京", 12), ("杭州", 9), ("深圳", 9), ("广州", 8), ("成都", 8), ("南京", 6),
    ("武汉", 6), ("苏州", 5), ("重庆", 5), ("西安", 4), ("长沙", 4), ("天津", 3), ("郑州", 3),
    ("青岛", 3), ("厦门", 3), ("宁波", 2), ("合肥", 2), ("昆明", 2), ("沈阳", 2),
)  # fmt: skip
SKIN_TYPES: tuple[tuple[str, int], ...] = (
    ("混合性", 35),
    ("干性", 22),
    ("油性", 18),
    ("敏感肌", 17),
    ("中性", 8),
)
MOBILE_PREFIXES = [
    "130",
    "131",
    "132",
    "133",
    "134",
    "135",
    "136",
    "137",
    "138",
    "139",
    "150",
    "151",
    "152",
    "153",
    "155",
    "156",
    "157",
    "158",
    "159",
    "166",
    "176",
    "177",
    "178",
    "180",
    "181",
    "182",
    "183",
    "185",
    "186",
    "187",
    "188",
    "189",
    "191",
    "198",
    "199",
]
EMAIL_DOMAINS: tuple[tuple[str, int], ...] = (
    ("qq.com", 50),
    ("163.com", 25),
    ("126.com", 10),
    ("gmail.com", 5),
)
PINYIN_HANDLES = [
    "xiaoyu",
    "lili",
    "momo",
    "tingting",
    "yaya",
    "jingjing",
    "meimei",
    "susu",
    "anan",
    "qingqing",
    "lulu",
    "doudou",
]


@dataclass(frozen=True)
class Person:
    number: int
    name: str
    gender: str  # "female" | "male"
    birthday: date
    city: str
    skin_type: str
    phone: str | None  # E.164, +86 1xx…; None: never given
    email: str | None
    member_id: str
    unionid: str
    openid: str
    device_id: str  # the mini-program's anonymous id before login
    douyin_id: str
    tmall_id: str
    wecom_external_userid: str


def weighted(rng: random.Random, table: tuple[tuple[str, int], ...] | dict[str, float]) -> str:
    items = list(table.items()) if isinstance(table, dict) else list(table)
    return rng.choices([k for k, _ in items], weights=[w for _, w in items])[0]


@lru_cache(maxsize=8)
def _byte_map(alphabet: str) -> bytes:
    """Byte b → the ASCII character `alphabet[b % len(alphabet)]`, for `bytes.translate`."""
    return bytes(ord(alphabet[b % len(alphabet)]) for b in range(256))


def _token(seed: int, number: int, kind: str, length: int, alphabet: str) -> str:
    """A stable pseudo-random id: the same (seed, customer, kind) always gives the same token."""
    digest = hashlib.blake2b(f"lanji/{seed}/{number}/{kind}".encode(), digest_size=length).digest()
    return digest.translate(_byte_map(alphabet)).decode("ascii")


ALNUM = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
HEX = "0123456789abcdef"


def stable_digits(seed: int, number: int, kind: str, length: int) -> str:
    return _token(seed, number, kind, length, "0123456789")


def phone_for(rng: random.Random, seed: int, number: int) -> str:
    """A plausible mobile number; the last 8 digits are a bijection of the customer number (no clashes)."""
    prefix = rng.choice(MOBILE_PREFIXES)
    multiplier = 48_271 + 2 * (seed % 1000)  # odd, coprime with 10**8 unless a multiple of 5
    if multiplier % 5 == 0:
        multiplier += 2
    tail = (number * multiplier + 7_919 * (seed + 1)) % 10**8
    return f"+86{prefix}{tail:08d}"


def make_person(rng: random.Random, seed: int, number: int, year: int) -> Person:
    """Customer `number` of the brand generated with `seed`; ages are counted from `year`."""
    gender = "female" if rng.random() < 0.88 else "male"
    chars = FEMALE_CHARS if gender == "female" else MALE_CHARS
    given = "".join(rng.choice(chars) for _ in range(1 if rng.random() < 0.25 else 2))
    name = weighted(rng, SURNAMES) + given
    age = max(18, min(55, round(rng.gauss(30, 7))))
    birthday = date(year - age, 1, 1)
    birthday = date.fromordinal(birthday.toordinal() + rng.randrange(365))
    phone = phone_for(rng, seed, number) if rng.random() < 0.92 else None
    email = None
    if rng.random() < 0.18:
        handle = rng.choice(PINYIN_HANDLES) + stable_digits(seed, number, "mail", 4)
        email = f"{handle}@{weighted(rng, EMAIL_DOMAINS)}"
    member_tail = (number * 7_777_777 + 1_000_003 * (seed % 97 + 1)) % 10**9
    return Person(
        number=number,
        name=name,
        gender=gender,
        birthday=birthday,
        city=weighted(rng, CITIES),
        skin_type=weighted(rng, SKIN_TYPES),
        phone=phone,
        email=email,
        member_id=f"LJ{seed % 100:02d}{member_tail:09d}",
        unionid="o6_bm" + _token(seed, number, "unionid", 23, ALNUM),
        openid="oLJ_m" + _token(seed, number, "openid", 23, ALNUM),
        device_id=_uuid_like(_token(seed, number, "device", 32, HEX)),
        douyin_id="dy" + _token(seed, number, "douyin", 22, ALNUM),
        tmall_id="tb" + _token(seed, number, "tmall", 24, ALNUM),
        wecom_external_userid="wm" + _token(seed, number, "wecom", 26, ALNUM),
    )


def _uuid_like(hex32: str) -> str:
    return f"{hex32[:8]}-{hex32[8:12]}-{hex32[12:16]}-{hex32[16:20]}-{hex32[20:]}"


def phone_as_typed(rng: random.Random, phone: str) -> str:
    """How a channel spells a number: E.164, bare 11 digits, or with dashes (normalised on ingestion)."""
    local = phone[3:]
    style = rng.random()
    if style < 0.5:
        return phone
    if style < 0.85:
        return local
    return f"{local[:3]}-{local[3:7]}-{local[7:]}"
