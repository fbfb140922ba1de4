"""The demo brand 澜肌 Lanji: its channels (one tracking source each), products and price list.

Plain data, no I/O. Prices are CNY `Decimal`s with fen precision; `cycle_days` is how long one unit lasts.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

BRAND = "澜肌 Lanji"
CURRENCY = "CNY"


@dataclass(frozen=True)
class Channel:
    code: str  # stable machine name, also the `source_channel` trait value
    label: str  # what an operator reads
    source_name: str  # name of the tracking source created for it


DOUYIN = Channel("douyin", "抖音 Douyin", "澜肌 Lanji · 抖音 Douyin")
TMALL = Channel("tmall", "天猫 Tmall", "澜肌 Lanji · 天猫 Tmall")
STORE = Channel("store", "门店 Store POS", "澜肌 Lanji · 门店 Store POS")
MINIPROGRAM = Channel("miniprogram", "小程序 Mini-program", "澜肌 Lanji · 小程序 Mini-program")
WECOM = Channel("wecom", "企业微信 WeCom", "澜肌 Lanji · 企业微信 WeCom")
CHANNELS: tuple[Channel, ...] = (DOUYIN, TMALL, STORE, MINIPROGRAM, WECOM)
BY_CODE = {c.code: c for c in CHANNELS}


@dataclass(frozen=True)
class Product:
    product_id: str
    sku: str
    name: str
    category: str
    price: Decimal
    cycle_days: int | None  # None: not replenished (trial kits)
    seasonal: bool = False  # only bought and replenished April to September (sunscreen)


PRODUCTS: tuple[Product, ...] = (
    Product("LJ-SER-BOS30", "6970000000011", "澜肌 玻色因紧致精华 30ml", "精华", Decimal("399.00"), 90),
    Product("LJ-SER-CEN30", "6970000000028", "澜肌 积雪草修护精华 30ml", "精华", Decimal("269.00"), 90),
    Product("LJ-CRM-CER50", "6970000000035", "澜肌 神经酰胺保湿面霜 50g", "面霜", Decimal("299.00"), 60),
    Product("LJ-CRM-RET50", "6970000000042", "澜肌 视黄醇晚安面霜 50g", "面霜", Decimal("359.00"), 60),
    Product("LJ-CLN-AMI120", "6970000000059", "澜肌 氨基酸温和洁面 120g", "洁面", Decimal("89.90"), 45),
    Product("LJ-CLN-OIL100", "6970000000066", "澜肌 净澈控油洁面 100g", "洁面", Decimal("79.00"), 45),
    Product("LJ-MSK-HYA5", "6970000000073", "澜肌 玻尿酸补水面膜 5片", "面膜", Decimal("99.00"), 30),
    Product("LJ-MSK-SOO5", "6970000000080", "澜肌 舒缓修护面膜 5片", "面膜", Decimal("119.00"), 30),
    Product(
        "LJ-SUN-SPF50", "6970000000097", "澜肌 轻透防晒乳 SPF50+ 50ml", "防晒", Decimal("169.00"), 60, True
    ),
    Product(
        "LJ-KIT-TRY", "6970000000103", "澜肌 修护体验装(精华+面霜小样)", "体验装", Decimal("39.90"), None
    ),
)
BY_ID = {p.product_id: p for p in PRODUCTS}
CATEGORIES: tuple[str, ...] = ("精华", "面霜", "洁面", "面膜", "防晒")


def in_category(category: str) -> tuple[Product, ...]:
    return tuple(p for p in PRODUCTS if p.category == category)


# Where a customer's first order comes from, by persona (weights over CHANNELS' codes).
FIRST_CHANNEL_WEIGHTS: dict[str, dict[str, float]] = {
    "prospect": {"douyin": 0.25, "tmall": 0.0, "store": 0.05, "miniprogram": 0.45, "wecom": 0.25},
    "one_time": {"douyin": 0.40, "tmall": 0.35, "store": 0.10, "miniprogram": 0.15, "wecom": 0.0},
    "repeat": {"douyin": 0.25, "tmall": 0.40, "store": 0.20, "miniprogram": 0.15, "wecom": 0.0},
    "loyal": {"douyin": 0.10, "tmall": 0.35, "store": 0.35, "miniprogram": 0.20, "wecom": 0.0},
}

# First baskets by channel: (category, weight). Douyin live rooms sell trial kits and serums.
FIRST_BASKET: dict[str, dict[str, float]] = {
    "douyin": {"体验装": 0.45, "精华": 0.30, "面膜": 0.15, "洁面": 0.10},
    "tmall": {"精华": 0.40, "面霜": 0.25, "洁面": 0.15, "面膜": 0.15, "体验装": 0.05},
    "store": {"精华": 0.35, "面霜": 0.35, "洁面": 0.15, "面膜": 0.15},
    "miniprogram": {"面膜": 0.30, "洁面": 0.25, "精华": 0.25, "面霜": 0.20},
}

STORES: tuple[tuple[str, str], ...] = (
    ("SH01", "上海"),
    ("SH02", "上海"),
    ("HZ01", "杭州"),
    ("GZ01", "广州"),
    ("SZ01", "深圳"),
)

MEMBER_LEVELS: tuple[tuple[Decimal, str], ...] = (
    (Decimal("5000"), "黑金卡"),
    (Decimal("2000"), "金卡"),
    (Decimal("800"), "银卡"),
    (Decimal("0"), "普卡"),
)


def member_level(spent: Decimal) -> str:
    """The membership tier a cumulative spend earns."""
    for threshold, level in MEMBER_LEVELS:
        if spent >= threshold:
            return level
    return MEMBER_LEVELS[-1][1]
