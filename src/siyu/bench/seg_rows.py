"""Rows of the customer-level tables the bench brand fills (customers, stats, identities, traits, rollups,
owners, consents, tags), built from the in-memory model one slice of customers at a time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
from numpy.typing import NDArray

from siyu.bench.seg_calendar import US
from siyu.bench.seg_events import ROLLUP_NAMES
from siyu.bench.seg_model import Brand
from siyu.bench.seg_orders import LEVELS
from siyu.bench.seg_people import CHANNELS, CITIES, LIVE_CODES, SKIN_TYPES
from siyu.core import fastsql
from siyu.core.pii import Vault

Row = tuple[Any, ...]
# static tags loaded with the brand: (name, share of customers)
BENCH_TAGS = (("直播间老粉", 0.10), ("KOC 达人", 0.01), ("敏感肌试用", 0.05), ("投诉过", 0.002))
BENCH_TAG_GROUP = "运营标签"


def times(us: NDArray[Any]) -> list[str | None]:
    """UTC µs → the text SQLAlchemy stores on SQLite (also read as UTC by PostgreSQL with TimeZone=UTC)."""
    if len(us) == 0:
        return []
    text = np.maximum(us, 0).astype("datetime64[us]").astype("U26")
    text.view(np.uint32).reshape(len(us), 26)[:, 10] = ord(" ")
    out: list[str | None] = text.tolist()
    for i in np.flatnonzero(us < 0).tolist():
        out[i] = None
    return out


def days(epoch_days: NDArray[Any]) -> list[str]:
    return list(epoch_days.astype("datetime64[D]").astype("U10").tolist())


def money(fen: int) -> str:
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


@dataclass(frozen=True)
class IdBase:
    """First id of each table's rows (1 + the largest id already there)."""

    customer: int
    event: int
    order: int
    line: int
    identity: int
    history: int
    tag_history: int
    staff: int


def _json_of(values: Sequence[str]) -> np.ndarray:
    out = np.empty(len(values), dtype=object)
    out[:] = [fastsql.db_json(x) for x in values]
    return out


TRAITS = (
    "birthday",
    "city",
    "email",
    "gender",
    "live_code",
    "member_id",
    "member_level",
    "name",
    "phone",
    "skin_type",
    "source_channel",
    "unionid",
)
CITY_JSON, SKIN_JSON, CHANNEL_JSON = _json_of(CITIES), _json_of(SKIN_TYPES), _json_of(CHANNELS)
LIVE_CODE_JSON, LEVEL_JSON = _json_of(LIVE_CODES), _json_of(LEVELS)
# a block of trait rows: (customer indexes, name rank, JSON values, ciphertexts, observed µs)
Block = tuple[np.ndarray, int, list[Any], list[Any], np.ndarray]


def _sorted_blocks(blocks: Sequence[Sequence[Any]]) -> tuple[np.ndarray, list[Any]]:
    """Concatenate blocks of rows and sort them by (customer, block rank); returns (order, columns)."""
    customer = np.concatenate([x[0] for x in blocks])
    rank = np.concatenate([np.full(len(x[0]), x[1]) for x in blocks])
    order = np.lexsort((rank, customer))
    columns: list[Any] = [customer[order]]
    for c in range(2, len(blocks[0])):
        parts = [x[c] for x in blocks]
        if isinstance(parts[0], np.ndarray):
            columns.append(np.concatenate(parts)[order])
        else:
            flat = [value for part in parts for value in part]
            columns.append([flat[i] for i in order.tolist()])
    return order, columns


def wecom_id(device: str) -> str:
    return "wm" + device.replace("-", "")[:26]


def unionid(device: str) -> str:
    return "o6_bm" + device.replace("-", "")[:23]


class CustomerRows:
    """Call the methods with consecutive slices, in order: ids of identities and trait history follow on."""

    def __init__(
        self, brand: Brand, base: IdBase, sources: dict[str, int], vault: Vault, loaded_at: datetime
    ):
        self.b, self.base, self.sources, self.vault = brand, base, sources, vault
        self.loaded_at = fastsql.db_time("sqlite", loaded_at)
        self.next_identity = base.identity
        self.next_history = base.history
        self.next_tag_history = base.tag_history
        rng = np.random.default_rng(brand.size.seed + 1)
        n = brand.people.count
        self.wecom_granted = rng.random(n) < 0.9
        self.sms_granted = rng.random(n) < 0.55
        self.tagged = [rng.random(n) < share for _, share in BENCH_TAGS]

    def cid(self, i: int) -> int:
        return self.base.customer + i

    def customers(self, lo: int, hi: int) -> list[Row]:
        created = times(self.b.stats.first_seen[lo:hi] + 300_000)
        return [(self.cid(i), c) for i, c in zip(range(lo, hi), created, strict=True)]

    def stats(self, lo: int, hi: int) -> list[Row]:
        s = self.b.stats
        cols = (
            times(s.first_seen[lo:hi]),
            times(s.last_seen[lo:hi]),
            s.events_count[lo:hi].tolist(),
            s.orders_count[lo:hi].tolist(),
            s.spent[lo:hi].tolist(),
            s.refunded[lo:hi].tolist(),
            times(s.first_order[lo:hi]),
            times(s.last_order[lo:hi]),
            s.has_orders[lo:hi].tolist(),
        )
        return [
            (self.cid(lo + k), fs, ls, ev, oc, sp, rf, fo, lo_, "CNY" if has else None)
            for k, (fs, ls, ev, oc, sp, rf, fo, lo_, has) in enumerate(zip(*cols, strict=True))
        ]

    def identities(self, lo: int, hi: int) -> list[Row]:
        p, b, v = self.b.people, self.b, self.vault
        idx = np.arange(lo, hi)
        member, contact = p.member[idx], p.contact[idx]
        has_phone = p.phone[idx]
        phone = has_phone & (member | (contact & p.shares_phone[idx]))
        mini, wecom = self.sources["miniprogram"], self.sources["wecom"]
        join_source = np.array([self.sources[c] for c in CHANNELS])[p.join_channel[idx]]
        blocks: list[tuple[np.ndarray, int, list[Any], list[Any], list[Any], np.ndarray, np.ndarray]] = []
        devices = b.strings.devices(idx.tolist())
        blocks.append(
            (idx, 0, devices, devices, [None] * len(idx), np.full(len(idx), mini), b.stats.first_seen[idx])
        )
        m = idx[member]
        ids = [b.strings.member_id(i) for i in m.tolist()]
        blocks.append((m, 1, ids, ids, [None] * len(m), join_source[member], p.join_at[m]))
        ph = idx[phone]
        numbers = [b.strings.phone(i) or "" for i in ph.tolist()]
        blocks.append(
            (
                ph,
                2,
                [v.blind_index("phone", x) for x in numbers],
                [None] * len(ph),
                [v.encrypt(x.encode()) for x in numbers],
                np.full(len(ph), mini),
                np.where(member[phone], p.join_at[ph], p.contact_at[ph]),
            )
        )
        c = idx[contact]
        handles = [wecom_id(b.strings.device(i)) for i in c.tolist()]
        blocks.append((c, 3, handles, handles, [None] * len(c), np.full(len(c), wecom), p.contact_at[c]))
        kinds = ("anonymous_id", "user_id", "phone", "wecom_external_userid")
        order, cols = _sorted_blocks(blocks)
        kind = np.concatenate([np.full(len(x[0]), x[1]) for x in blocks])[order]
        n = len(order)
        ids_out = range(self.next_identity, self.next_identity + n)
        self.next_identity += n
        return list(
            zip(
                ids_out,
                (cols[0] + self.base.customer).tolist(),
                [kinds[k] for k in kind.tolist()],
                cols[1],
                cols[2],
                cols[3],
                cols[4].tolist(),
                times(cols[5]),
                strict=True,
            )
        )

    def traits(self, lo: int, hi: int) -> tuple[list[Row], list[Row]]:
        """(trait_history rows, traits rows): one history row per current value (its last write)."""
        blocks = self._trait_blocks(lo, hi)
        order, cols = _sorted_blocks(blocks)
        rank = np.concatenate([np.full(len(x[0]), x[1]) for x in blocks])[order]
        n = len(order)
        hids = list(range(self.next_history, self.next_history + n))
        self.next_history += n
        customers = (cols[0] + self.base.customer).tolist()
        names = [TRAITS[r] for r in rank.tolist()]
        observed = times(cols[3])
        history = list(
            zip(
                hids,
                customers,
                names,
                cols[1],
                cols[2],
                observed,
                [self.loaded_at] * n,
                ["identify:bench"] * n,
                strict=True,
            )
        )
        current = list(zip(customers, names, cols[1], cols[2], observed, hids, strict=True))
        return history, current

    def _trait_blocks(self, lo: int, hi: int) -> list[Block]:
        p, b, v = self.b.people, self.b, self.vault
        idx = np.arange(lo, hi)
        member, contact = p.member[idx], p.contact[idx]
        m, c, known = idx[member], idx[contact], idx[member | contact]
        join, added = p.join_at, p.contact_at
        both = np.maximum(np.where(member, join[idx], 0), np.where(contact, added[idx], 0))[member | contact]
        phone_known = p.phone[idx] & (member | (contact & p.shares_phone[idx]))
        ph, em = idx[phone_known], idx[p.email[idx] & member]
        st = b.strings

        def plain(who: np.ndarray, rank: str, values: list[Any], at: np.ndarray) -> Block:
            return (who, TRAITS.index(rank), values, [None] * len(who), at)

        def secret(who: np.ndarray, rank: str, values: list[Any], at: np.ndarray) -> Block:
            return (who, TRAITS.index(rank), ["null"] * len(who), [v.encrypt_json(x) for x in values], at)

        birthdays = days(p.birthday[m])
        return [
            plain(m, "birthday", [f'"{x}"' for x in birthdays], join[m]),
            plain(m, "city", CITY_JSON[p.city[m]].tolist(), join[m]),
            secret(em, "email", [st.email(i) for i in em.tolist()], join[em]),
            plain(known, "gender", np.where(p.female[known], '"female"', '"male"').tolist(), both),
            plain(c, "live_code", LIVE_CODE_JSON[p.live_code[c]].tolist(), added[c]),
            plain(m, "member_id", [f'"{st.member_id(i)}"' for i in m.tolist()], join[m]),
            plain(
                m, "member_level", LEVEL_JSON[b.orders.member_level[m]].tolist(), b.orders.member_level_at[m]
            ),
            secret(known, "name", st.names(known), both),
            secret(
                ph, "phone", [st.phone(i) for i in ph.tolist()], np.where(p.member[ph], join[ph], added[ph])
            ),
            plain(m, "skin_type", SKIN_JSON[p.skin[m]].tolist(), join[m]),
            plain(m, "source_channel", CHANNEL_JSON[p.channel[m]].tolist(), join[m]),
            plain(c, "unionid", [f'"{unionid(st.device(i))}"' for i in c.tolist()], added[c]),
        ]

    def rollups(self, lo: int, hi: int) -> list[Row]:
        r = self.b.rollups
        names = [ROLLUP_NAMES[k] for k in r.kind[lo:hi].tolist()]
        return list(
            zip(
                (r.customer[lo:hi] + self.base.customer).tolist(),
                days(r.day[lo:hi]),
                names,
                r.count[lo:hi].tolist(),
                strict=True,
            )
        )

    def owners(self, lo: int, hi: int) -> list[Row]:
        p = self.b.people
        ids = np.arange(lo, hi)[p.contact[lo:hi]]
        at = times(p.contact_at[ids])
        return [
            (self.cid(i), self.base.staff + int(p.advisor[i]), a)
            for i, a in zip(ids.tolist(), at, strict=True)
        ]

    def consents(self, lo: int, hi: int) -> list[Row]:
        p = self.b.people
        rows: list[Row] = []
        joins, added = times(p.join_at[lo:hi]), times(p.contact_at[lo:hi])
        for k, i in enumerate(range(lo, hi)):
            if p.contact[i]:
                status = "granted" if self.wecom_granted[i] else "unsubscribed"
                rows.append((self.cid(i), "wecom", "marketing", status, added[k], "wecom:add_contact"))
            if p.member[i] and p.phone[i]:
                status = "granted" if self.sms_granted[i] else "denied"
                rows.append((self.cid(i), "sms", "marketing", status, joins[k], "signup:form"))
        return rows

    def tags(self, lo: int, hi: int, tag_ids: Sequence[int]) -> tuple[list[Row], list[Row]]:
        """(customer_tags rows, tag_history rows)."""
        current: list[Row] = []
        history: list[Row] = []
        added = times(np.minimum(self.b.stats.first_seen[lo:hi] + 86_400 * US, self.b.cal.now_us - US))
        for k, i in enumerate(range(lo, hi)):
            for tag_id, mask in zip(tag_ids, self.tagged, strict=True):
                if mask[i]:
                    current.append((self.cid(i), tag_id, added[k], "import:bench"))
                    history.append(
                        (
                            self.next_tag_history,
                            self.cid(i),
                            tag_id,
                            "added",
                            added[k],
                            "import:bench",
                            "bench data",
                        )
                    )
                    self.next_tag_history += 1
        return current, history
