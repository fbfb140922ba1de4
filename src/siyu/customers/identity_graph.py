"""Identity resolution: which customer a message belongs to, linking and merging as identities meet.

A `Resolver` serves one ingestion batch: it looks up every key of the batch in one query, keeps new
customers pending (negative ids) until `flush()`, and merges stored customers through `merges.merge`.
Rules: the customer of the highest-priority key receives the message; two customers merge unless both
hold different values of a unique type (a shared device must not merge a family); `force` (alias) merges
regardless.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.clock import now
from siyu.customers import merges
from siyu.customers.identity_cache import IdentityCache, Key
from siyu.customers.identity_types import CUSTOM_RULE, IdentityKey, IdentityRule, rules, unique_types
from siyu.customers.tables import Identity

IDENTITY_COLUMNS = ("customer_id", "type", "lookup", "value", "value_enc", "source_id", "first_seen_at")


class Resolver:
    def __init__(
        self,
        session: Session,
        *,
        source_id: int | None,
        actor: str = "ingestion",
        cache: IdentityCache | None = None,
    ) -> None:
        self.session = session
        self.cache = cache  # identities known from earlier transactions (the SQLite writer's)
        self.source_id = source_id
        self.actor = actor
        self.index: dict[Key, int] = {}
        self.unique: dict[int, dict[str, set[str]]] = {}
        self.alias: dict[int, int] = {}
        self.pending_identities: list[tuple[int, IdentityKey, datetime]] = []
        self._next_pending = -1
        self.merges: list[int] = []
        self._looked_up: set[Key] = set()
        self._rules = rules()  # read once per batch: rule_for() per key was a measurable cost

    def _rule(self, kind: str) -> IdentityRule:
        return self._rules.get(kind, CUSTOM_RULE)

    # -- loading -------------------------------------------------------------------------------
    def preload(self, keys: Iterable[Key], *, unique: bool = True) -> None:
        """Look the keys up in one query; with `unique`, also load the unique-type identities of the
        customers found (needed to check conflicts), else leave that to `preload_unique`."""
        wanted = {k for k in keys if k not in self.index and k not in self._looked_up}
        if not wanted:
            return
        unknown = wanted
        if self.cache is not None:
            known = self.cache.known(wanted)
            self.index.update(known)
            unknown = wanted - known.keys()
        if unknown:
            self._looked_up |= unknown
            kind = fastsql.dialect(self.session)
            sql = f"SELECT type, lookup, customer_id FROM identities WHERE lookup {fastsql.in_list(kind)}"  # noqa: S608
            lookups = sorted({lookup for _, lookup in unknown})
            for found, lookup, cid in fastsql.fetch(self.session, sql, (fastsql.list_param(kind, lookups),)):
                if (found, lookup) in unknown:
                    self.index[(found, lookup)] = int(cid)
        if unique:
            self._preload_unique({self.index[k] for k in wanted if k in self.index})

    def preload_unique(self, customer_ids: Iterable[int]) -> None:
        self._preload_unique(set(customer_ids))

    def _preload_unique(self, customer_ids: set[int]) -> None:
        """Unique-type identities of these stored customers, in one query (needed for conflict checks)."""
        ids = sorted(cid for cid in customer_ids if cid > 0 and cid not in self.unique)
        if not ids:
            return
        for cid in ids:
            self.unique[cid] = {}
        kind = fastsql.dialect(self.session)
        sql = (
            "SELECT customer_id, type, lookup FROM identities"  # noqa: S608 (no input in the text)
            f" WHERE customer_id {fastsql.in_list(kind, 'bigint')} AND type {fastsql.in_list(kind)}"
        )
        params = (fastsql.list_param(kind, ids), fastsql.list_param(kind, unique_types()))
        for cid, found, lookup in fastsql.fetch(self.session, sql, params):
            self.unique[int(cid)].setdefault(found, set()).add(lookup)

    def _unique_values(self, cid: int) -> dict[str, set[str]]:
        if cid not in self.unique:
            values: dict[str, set[str]] = {}
            if cid > 0:
                for kind, lookup in self.session.execute(
                    select(Identity.type, Identity.lookup).where(Identity.customer_id == cid)
                ):
                    if self._rule(kind).unique:
                        values.setdefault(kind, set()).add(lookup)
            self.unique[cid] = values
        return self.unique[cid]

    def find(self, cid: int) -> int:
        while cid in self.alias:
            cid = self.alias[cid]
        return cid

    # -- resolution ----------------------------------------------------------------------------
    def resolve(
        self, keys: list[IdentityKey], when: datetime, *, force: bool = False, reason: str = ""
    ) -> int:
        """The customer for a message carrying `keys` (best first after sorting by priority)."""
        if not force:
            known = self._sole_owner(keys)
            if known is not None:
                return known
        keys = sorted(keys, key=lambda k: self._rule(k.type).priority) if len(keys) > 1 else keys
        self.preload(k.key for k in keys)
        owners: list[int] = []
        for k in keys:
            cid = self.index.get(k.key)
            if cid is not None:
                cid = self.find(cid)
                if cid not in owners:
                    owners.append(cid)
        best = keys[0]
        if best.key in self.index:
            primary = self.find(self.index[best.key])
        elif owners and (force or not self._key_conflicts(owners[0], best)):
            primary = owners[0]
        else:
            # the strongest identifier is new and cannot join the others: it is a new person
            primary = self._new_customer()
        for k in keys:
            if k.key not in self.index and not self._key_conflicts(primary, k):
                self._attach(primary, k, when)
        for other in owners:
            other = self.find(other)
            if other == primary:
                continue
            if force or not self._conflicts(primary, other):
                primary = self._merge(primary, other, reason or "identities met in one message")
        return primary

    def _sole_owner(self, keys: list[IdentityKey]) -> int | None:
        """The customer every key already belongs to (a returning customer: nothing to attach or merge,
        so `resolve` would return them too), else None."""
        owner = None
        for k in keys:
            cid = self.index.get(k.key)
            if cid is None:
                return None
            cid = self.find(cid)
            if owner is None:
                owner = cid
            elif cid != owner:
                return None
        return owner

    def _conflicts(self, a: int, b: int) -> bool:
        ua, ub = self._unique_values(a), self._unique_values(b)
        return any(kind in ub and ua[kind] != ub[kind] for kind in ua)

    def _key_conflicts(self, cid: int, key: IdentityKey) -> bool:
        if not self._rule(key.type).unique:
            return False
        held = self._unique_values(cid).get(key.type)
        return held is not None and bool(held) and key.lookup not in held

    def _new_customer(self) -> int:
        cid = self._next_pending
        self._next_pending -= 1
        self.unique[cid] = {}
        return cid

    def _attach(self, cid: int, key: IdentityKey, when: datetime) -> None:
        self.index[key.key] = cid
        self.pending_identities.append((cid, key, when))
        if self._rule(key.type).unique:
            self._unique_values(cid).setdefault(key.type, set()).add(key.lookup)

    def _merge(self, primary: int, other: int, reason: str) -> int:
        """Merge two customers; a stored customer survives a pending one. Returns the survivor."""
        if primary < 0 and other > 0:
            primary, other = other, primary
        if other > 0:
            self.flush_identities()
            record = merges.merge(self.session, primary, other, reason=reason, actor=self.actor)
            self.merges.append(record.id)
        survivor_values = self._unique_values(primary)
        for kind, values in self._unique_values(other).items():
            survivor_values.setdefault(kind, set()).update(values)
        self.alias[other] = primary
        return primary

    # -- writing -------------------------------------------------------------------------------
    def flush_identities(self) -> None:
        """Create pending customers and insert pending identities; afterwards every id is stored."""
        pending_customers = sorted(
            {self.find(cid) for cid, _, _ in self.pending_identities if self.find(cid) < 0}, reverse=True
        )
        if pending_customers:
            created = fastsql.db_time(fastsql.dialect(self.session), now())
            ids = fastsql.insert_returning_ids(
                self.session, "customers", ["created_at"], [(created,) for _ in pending_customers]
            )
            for pending, real in zip(pending_customers, ids, strict=True):
                self.alias[pending] = real
                self.unique[real] = self.unique.pop(pending, {})
        if self.pending_identities:
            kind = fastsql.dialect(self.session)
            rows = []
            for cid, key, when in self.pending_identities:
                real = self.find(cid)
                self.index[key.key] = real
                rows.append(
                    (
                        real,
                        key.type,
                        key.lookup,
                        key.value,
                        key.value_enc,
                        self.source_id,
                        fastsql.db_time(kind, when),
                    )
                )
            fastsql.insert_rows(self.session, "identities", IDENTITY_COLUMNS, rows)
            self.pending_identities.clear()

    def materialise(self, cid: int) -> int:
        """The stored id for `cid` (call after `flush_identities`)."""
        real = self.find(cid)
        if real < 0:
            raise RuntimeError("pending customer without identities; resolve() always attaches one")
        return real
