"""The ingestion pipeline: validate → drop duplicates → resolve identities → write events, traits,
orders, stats and rollups — one transaction per batch, a handful of statements whatever its size.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

import orjson
from sqlalchemy.orm import Session

from siyu.commerce import ecommerce
from siyu.core import fastsql
from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault
from siyu.core.settings import Settings
from siyu.customers import stats, traits
from siyu.customers.identity_cache import IdentityCache
from siyu.customers.identity_graph import Resolver
from siyu.customers.identity_types import TRAIT_IDENTITIES, IdentityKey, canonical_trait, make_key
from siyu.events.spec import Message, parse_message


@dataclass
class MessageError:
    index: int
    message_id: str | None
    field: str | None
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"index": self.index, "messageId": self.message_id, "field": self.field, "error": self.message}


@dataclass
class IngestReport:
    accepted: int = 0
    duplicates: int = 0
    errors: list[MessageError] = field(default_factory=list)
    customer_ids: set[int] = field(default_factory=set)
    merges: list[int] = field(default_factory=list)


@dataclass
class _Parsed:
    index: int
    msg: Message
    keys: list[IdentityKey]
    commerce: ecommerce.CommerceAction | None
    row: tuple[Any, ...]  # the event row's columns after customer_id and received_at (EVENT_COLUMNS)
    customer: int = 0


def identity_keys(vault: Vault, msg: Message) -> list[IdentityKey]:
    keys: list[IdentityKey] = []
    if msg.user_id:
        keys.append(make_key(vault, "user_id", msg.user_id))
    if msg.anonymous_id:
        keys.append(make_key(vault, "anonymous_id", msg.anonymous_id))
    context_traits = msg.context.get("traits")
    for source, where in ((msg.traits, "traits"), (context_traits, "context.traits")):
        if not isinstance(source, dict):
            continue
        for name, value in source.items():
            kind = TRAIT_IDENTITIES.get(canonical_trait(name))
            if kind is None or value is None or value == "":
                continue
            try:
                keys.append(make_key(vault, kind, value))
            except ValidationFailed as exc:
                raise ValidationFailed(f"{where}.{name}: {exc.message}", field=f"{where}.{name}") from exc
    external = msg.context.get("externalIds")
    if isinstance(external, list):
        for i, item in enumerate(external):
            if not isinstance(item, dict) or "id" not in item or "type" not in item:
                raise ValidationFailed(
                    "externalIds entries need id and type", field=f"context.externalIds[{i}]"
                )
            keys.append(make_key(vault, str(item["type"]), item["id"]))
    unique: dict[tuple[str, str], IdentityKey] = {}
    for k in keys:
        unique.setdefault(k.key, k)
    return list(unique.values())


def _kind(settings: Settings) -> str:
    return "sqlite" if settings.is_sqlite else "postgresql"


def _field_with_nul(raw: Any) -> str:
    if isinstance(raw, dict):
        for key, value in raw.items():
            if b"\\u0000" in orjson.dumps({key: value}):
                return str(key).replace("\x00", "")
    return "message"


def _parse_all(
    raws: list[Any],
    settings: Settings,
    vault: Vault,
    received_at: datetime,
    batch_sent_at: datetime | None,
    forced_type: str | None,
    report: IngestReport,
    source_id: int,
) -> list[_Parsed]:
    parsed: list[_Parsed] = []
    kind = _kind(settings)
    for index, raw in enumerate(raws):
        message_id = raw.get("messageId") if isinstance(raw, dict) else None
        try:
            encoded = orjson.dumps(raw)
            if len(encoded) > settings.max_message_bytes:
                raise ValidationFailed(
                    f"message is larger than {settings.max_message_bytes} bytes", field="message"
                )
            if b"\\u0000" in encoded:
                raise ValidationFailed(
                    "text may not contain the NUL character (\\u0000)", field=_field_with_nul(raw)
                )
            msg = parse_message(
                raw, received_at=received_at, batch_sent_at=batch_sent_at, forced_type=forced_type
            )
            keys = identity_keys(vault, msg)
            action = None
            if msg.type == "track" and msg.name:
                action = ecommerce.parse(msg.name, msg.properties, settings.default_currency)
            parsed.append(_Parsed(index, msg, keys, action, _event_columns(vault, kind, source_id, msg)))
        except ValidationFailed as exc:
            mid = str(message_id) if isinstance(message_id, str | int) else None
            report.errors.append(MessageError(index, mid, exc.field, exc.message))
    return parsed


def _drop_duplicates(
    session: Session,
    source_id: int,
    parsed: list[_Parsed],
    reports: list[IngestReport],
    owner: dict[int, int],
) -> list[_Parsed]:
    seen: set[str] = set()
    fresh: list[_Parsed] = []
    for p in parsed:
        if p.msg.message_id in seen:
            reports[owner[id(p)]].duplicates += 1
            continue
        seen.add(p.msg.message_id)
        fresh.append(p)
    if not fresh:
        return fresh
    kind = fastsql.dialect(session)
    sql = (
        f"SELECT message_id FROM events WHERE source_id = {fastsql.mark(kind)}"  # noqa: S608
        f" AND message_id {fastsql.in_list(kind)}"
    )
    ids = fastsql.list_param(kind, [p.msg.message_id for p in fresh])
    stored = {m for (m,) in fastsql.fetch(session, sql, (source_id, ids))}
    if stored:
        for p in fresh:
            if p.msg.message_id in stored:
                reports[owner[id(p)]].duplicates += 1
        fresh = [p for p in fresh if p.msg.message_id not in stored]
    return fresh


def _resolve(
    session: Session,
    vault: Vault,
    source_id: int,
    fresh: list[_Parsed],
    owner: dict[int, int],
    batches: int,
    identities: IdentityCache | None,
) -> list[list[int]]:
    """Give every message its customer; returns the merge records made, by batch."""
    resolver = Resolver(session, source_id=source_id, cache=identities)
    preload = [k.key for p in fresh for k in p.keys]
    for p in fresh:
        if p.msg.type == "alias" and p.msg.previous_id:
            preload += [("user_id", p.msg.previous_id), ("anonymous_id", p.msg.previous_id)]
    resolver.preload(preload, unique=False)
    # A returning customer's message (every key stored, all theirs, no alias) is theirs without going
    # through the resolver: nothing to attach or merge, and `materialise` follows any merge of theirs that
    # a later message of the group makes, as the resolver would have. The others go through it, and only
    # they need the unique-type identities of the customers their keys belong to, to decide whether
    # identities may join (anything missed here is loaded on demand by the resolver).
    undecided: set[int] = set()
    todo: list[_Parsed] = []
    index = resolver.index
    for p in fresh:
        owners = {index.get(k.key) for k in p.keys}
        if len(owners) == 1 and p.msg.type != "alias":
            (cid,) = owners
            if cid is not None:
                p.customer = cid
                continue
        todo.append(p)
        undecided.update(cid for cid in owners if cid is not None)
        if p.msg.type == "alias" and p.msg.previous_id:
            for kind in ("user_id", "anonymous_id"):
                cid = index.get((kind, p.msg.previous_id))
                if cid is not None:
                    undecided.add(cid)
    resolver.preload_unique(undecided)
    merges: list[list[int]] = [[] for _ in range(batches)]
    for p in todo:
        before = len(resolver.merges)
        if p.msg.type == "alias" and p.msg.previous_id:
            as_user = ("user_id", p.msg.previous_id)
            kind = "user_id" if as_user in resolver.index else "anonymous_id"
            previous = make_key(vault, kind, p.msg.previous_id)
            keys = [*p.keys, previous] if previous.key not in {k.key for k in p.keys} else p.keys
            p.customer = resolver.resolve(keys, p.msg.timestamp, force=True, reason="alias")
        else:
            p.customer = resolver.resolve(p.keys, p.msg.timestamp)
        merges[owner[id(p)]].extend(resolver.merges[before:])
    resolver.flush_identities()
    for p in fresh:
        p.customer = resolver.materialise(p.customer)
    if identities is not None:
        if resolver.merges:  # stored customers merged: their identities moved
            identities.forget_on_commit()
        else:
            identities.learn((key, resolver.find(cid)) for key, cid in resolver.index.items())
    return merges


EVENT_COLUMNS = (
    "customer_id", "received_at", "source_id", "message_id", "type", "name", "user_id", "anonymous_id",
    "timestamp", "original_timestamp", "sent_at", "properties", "context", "pii_enc",
)  # fmt: skip


_ROW_TIMESTAMP = EVENT_COLUMNS.index("timestamp") - 2  # `_Parsed.row` starts after customer_id, received_at


def _event_columns(vault: Vault, kind: str, source_id: int, msg: Message) -> tuple[Any, ...]:
    """The event row without its customer and receipt time, built in the pure phase."""
    public, personal = vault.split_pii(msg.properties)
    if msg.type in ("track", "page", "screen") and "name" in personal:
        public["name"] = personal.pop("name")  # a product or page name, not a person's
    context = msg.context
    secret: dict[str, Any] = {}
    if personal:
        secret["properties"] = personal
    ctx_traits = context.get("traits")
    if isinstance(ctx_traits, dict):
        ctx_public, ctx_personal = vault.split_pii(ctx_traits)
        if ctx_personal:
            secret["context_traits"] = ctx_personal
            context = {**context, "traits": ctx_public}
    return (
        source_id,
        msg.message_id,
        msg.type,
        msg.name,
        msg.user_id,
        msg.anonymous_id,
        fastsql.db_time(kind, msg.timestamp),
        fastsql.db_time(kind, msg.original_timestamp),
        fastsql.db_time(kind, msg.sent_at),
        fastsql.db_json(public),
        fastsql.db_json(context),
        vault.encrypt_json(secret) if secret else None,
    )


WIRE_FORMAT = "prepared/1"  # `Prepared.to_wire`: bump when its layout changes


@dataclass
class Prepared:
    """One request's messages after the pure phase (validation, identity keys, encryption): no database
    needed, so it runs outside the write transaction and can run beside another batch's write."""

    source_id: int
    received_at: datetime
    parsed: list[_Parsed]
    errors: list[MessageError]
    kind: str  # the database dialect the event rows were built for
    slim: bool = False  # messages stripped of what only the event rows needed (see `to_wire`)

    def to_wire(self) -> tuple[Any, ...]:
        """The batch as the SQLite writer needs it, as plain tuples for its socket (`from_wire` rebuilds
        it, slim). Each message goes without its context, and without its properties unless `write` reads
        them (identify traits, e-commerce): the event row already holds them as JSON. The writer's one
        thread pays for unpickling every batch, and pickle makes tuples, strings and datetimes several
        times faster than dataclass instances (0.95 → 0.4 ms per 100 messages, rebuilding included)."""
        messages = [
            (
                p.index,
                (m := p.msg).type,
                m.message_id,
                m.user_id,
                m.anonymous_id,
                m.name,
                m.properties if m.type == "identify" or p.commerce else {},
                m.timestamp,
                m.original_timestamp,
                m.sent_at,
                m.previous_id,
                [tuple(k) for k in p.keys],
                p.commerce.to_wire() if p.commerce is not None else None,
                p.row,
            )
            for p in self.parsed
        ]
        errors = [(e.index, e.message_id, e.field, e.message) for e in self.errors]
        return (WIRE_FORMAT, self.source_id, self.received_at, self.kind, errors, messages)

    @classmethod
    def from_wire(cls, wire: Any) -> Prepared:
        """The slim batch `to_wire` made; ValueError if `wire` is not one."""
        if not (isinstance(wire, tuple) and len(wire) == 6 and wire[0] == WIRE_FORMAT):
            raise ValueError(f"expected a prepared batch in wire format {WIRE_FORMAT}")
        _format, source_id, received_at, kind, errors, messages = wire
        parsed = [
            _Parsed(
                index,
                Message(kind_, mid, uid, aid, name, props, {}, ts, original, sent, previous),
                [IdentityKey(*k) for k in keys],
                ecommerce.CommerceAction.from_wire(commerce) if commerce is not None else None,
                row,
            )
            for (
                index, kind_, mid, uid, aid, name, props, ts, original, sent, previous, keys, commerce, row
            ) in messages
        ]  # fmt: skip
        return cls(source_id, received_at, parsed, [MessageError(*e) for e in errors], kind, slim=True)


def prepare(
    settings: Settings,
    vault: Vault,
    *,
    source_id: int,
    raws: list[Any],
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    forced_type: str | None = None,
) -> Prepared:
    report = IngestReport()
    parsed = _parse_all(raws, settings, vault, received_at, batch_sent_at, forced_type, report, source_id)
    return Prepared(source_id, received_at, parsed, report.errors, _kind(settings))


def write(
    session: Session, vault: Vault, batches: list[Prepared], identities: IdentityCache | None = None
) -> list[IngestReport]:
    """Write prepared batches of one source inside the caller's transaction, as if one after the other
    (a messageId seen in an earlier batch is a duplicate in a later one), with one statement per table for
    all of them. Returns one report per batch; `write` may run again on the same batches after a rollback."""
    reports = [IngestReport(errors=list(b.errors)) for b in batches]
    if not batches:
        return reports
    source_id = batches[0].source_id
    if any(b.source_id != source_id for b in batches):
        raise ValueError("write() takes batches of one source")
    owner: dict[int, int] = {}  # id(_Parsed) -> batch position
    everything: list[_Parsed] = []
    for position, b in enumerate(batches):
        for p in b.parsed:
            owner[id(p)] = position
            everything.append(p)
    fresh = _drop_duplicates(session, source_id, everything, reports, owner)
    if not fresh:
        return reports
    merges_by_batch = _resolve(session, vault, source_id, fresh, owner, len(batches), identities)

    kind = fastsql.dialect(session)
    for b in batches:
        if b.kind != kind:  # prepared for another database than this session's: build the rows again
            if b.slim:
                raise ValueError(f"a batch slimmed for a {b.kind} writer cannot be written to {kind}")
            for p in b.parsed:
                p.row = _event_columns(vault, kind, source_id, p.msg)
            b.kind = kind
    received = [fastsql.db_time(kind, b.received_at) for b in batches]
    fastsql.insert_rows(
        session,
        "events",
        EVENT_COLUMNS,
        [(p.customer, received[owner[id(p)]], *p.row) for p in fresh],
        json_columns=("properties", "context"),
    )

    tallies: dict[int, stats.EventTally] = {}
    counts: dict[tuple[int, date, str], int] = {}
    writes: list[traits.TraitWrite] = []
    commerce: list[ecommerce.Pending] = []
    for p in fresh:
        cid, when = p.customer, p.msg.timestamp
        report = reports[owner[id(p)]]
        report.accepted += 1
        report.customer_ids.add(cid)
        stored_when = p.row[_ROW_TIMESTAMP]  # the event time as the row stores it, formatted once
        tally = tallies.get(cid)
        if tally is None:
            tallies[cid] = stats.EventTally(1, stored_when, stored_when)
        else:
            tally.add(stored_when)
        key = (cid, stats.local_day(when), stats.rollup_name(p.msg.type, p.msg.name))
        counts[key] = counts.get(key, 0) + 1
        if p.msg.type == "identify":
            origin = f"identify:{p.msg.message_id}"
            writes.extend(
                traits.TraitWrite(cid, name, value, when, origin) for name, value in p.msg.traits.items()
            )
        if p.commerce is not None:
            props = vault.split_pii(p.msg.properties)[0]
            commerce.append(ecommerce.Pending(p.commerce, cid, when, props))
    for report, merged in zip(reports, merges_by_batch, strict=True):
        report.merges.extend(merged)
    order_customers = ecommerce.apply_batch(session, source_id, commerce)
    traits.record(session, vault, writes)
    stats.add_event_tallies(session, tallies)
    stats.add_rollups(session, counts)
    stats.refresh_order_stats(session, order_customers)
    return reports


def ingest(
    session: Session,
    settings: Settings,
    vault: Vault,
    *,
    source_id: int,
    raws: list[Any],
    received_at: datetime,
    batch_sent_at: datetime | None = None,
    forced_type: str | None = None,
) -> IngestReport:
    """Ingest one batch inside the caller's transaction (the caller commits)."""
    prepared = prepare(
        settings,
        vault,
        source_id=source_id,
        raws=raws,
        received_at=received_at,
        batch_sent_at=batch_sent_at,
        forced_type=forced_type,
    )
    return write(session, vault, [prepared])[0]
