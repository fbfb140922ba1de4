"""Rows → Segment messages (pure): customers become `identify`, events become `track`.

The messageId is a keyed hash (the blind-index key) of the import kind and the message content, so the
same row always yields the same id and a re-run is dropped as duplicates; a plain hash would let anyone
with the database guess phone numbers back from ids. Rows that name a customer only by phone, email,
member id, … get a stable pseudonymous `anonymousId` derived the same way, as the spec needs one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import tzinfo
from typing import Any

import orjson

from siyu.core.errors import ValidationFailed
from siyu.core.pii import Vault
from siyu.customers.identity_types import lookup_key, rule_for
from siyu.imports.columns import IDENTITY_TARGETS, ColumnPlan
from siyu.imports.records import Built, Kind, Reject, Row
from siyu.imports.values import is_empty, iso, json_object, parse_when, plain, text

LIBRARY = {"name": "siyu-import", "version": "1"}
TRAIT_TARGETS = IDENTITY_TARGETS[2:]  # identity columns that travel as traits (user/anonymous id do not)


@dataclass(frozen=True)
class Context:
    zone: tzinfo  # the brand time zone for naive times
    vault: Vault  # keys for message ids and pseudonymous anonymous ids


def message_id(ctx: Context, kind: Kind, body: dict[str, Any], occurrence: int = 0) -> str:
    content = orjson.dumps(body, option=orjson.OPT_SORT_KEYS).decode()
    if occurrence:
        content += f"#{occurrence}"
    return f"import-{kind.value}-{ctx.vault.blind_index(f'import-{kind.value}', content)}"


@dataclass
class Identity:
    user_id: str | None
    anonymous_id: str | None
    traits: dict[str, str]  # phone, email, member_id, … as they appear in the file

    def fill(self, body: dict[str, Any]) -> None:
        if self.user_id:
            body["userId"] = self.user_id
        if self.anonymous_id:
            body["anonymousId"] = self.anonymous_id


def identity_values(row: Row, plan: ColumnPlan) -> dict[str, str]:
    """The row's non-empty identity cells by field (user_id, phone, …)."""
    values: dict[str, str] = {}
    for target in IDENTITY_TARGETS:
        column = plan.column(target)
        if column is not None:
            value = text(row.cells.get(column), column)
            if value is not None:
                values[target] = value
    return values


def identity_from(values: dict[str, str], plan: ColumnPlan) -> Identity:
    if not values:
        columns = [c for t in IDENTITY_TARGETS if (c := plan.column(t))]
        where = columns[0] + " is" if len(columns) == 1 else ", ".join(columns) + " are all"
        raise ValidationFailed(f"no customer identity: {where} empty", field=columns[0] if columns else "")
    traits = {t: values[t] for t in TRAIT_TARGETS if t in values}
    return Identity(values.get("user_id"), values.get("anonymous_id"), traits)


def identity_of(row: Row, plan: ColumnPlan) -> Identity:
    return identity_from(identity_values(row, plan), plan)


def pseudonym(ctx: Context, plan: ColumnPlan, ident: Identity) -> str | None:
    """A stable anonymousId for rows without userId/anonymousId, from their strongest identity."""
    if ident.user_id or ident.anonymous_id:
        return None
    kind = min(ident.traits, key=lambda t: rule_for(t).priority)
    try:
        _type, lookup = lookup_key(ctx.vault, kind, ident.traits[kind])
    except ValidationFailed as exc:
        raise ValidationFailed(exc.message, field=plan.column(kind) or kind) from exc
    return "import-" + ctx.vault.blind_index("import-anonymous", f"{kind}:{lookup}")[:32]


def finish(
    ctx: Context,
    kind: Kind,
    body: dict[str, Any],
    anonymous: str | None,
    built: Built,
    occurrence: int = 0,
) -> Built:
    """Give `body` its messageId (content hash) and, when needed, its pseudonymous anonymousId."""
    body["messageId"] = message_id(ctx, kind, body, occurrence)
    if anonymous:
        body["anonymousId"] = anonymous
    body["context"] = {**body.get("context", {}), "library": LIBRARY}
    built.message = body
    return built


def _when(row: Row, plan: ColumnPlan, target: str, required: bool, ctx: Context) -> str | None:
    column = plan.column(target)
    if column is None:
        return None
    value = row.cells.get(column)
    if is_empty(value) and not required:
        return None
    return iso(parse_when(value, ctx.zone, column))


def _columns_for(plan: ColumnPlan, prefix: str, names: Iterable[str]) -> dict[str, str]:
    out = {}
    for name in names:
        column = plan.column(name)
        if column is not None:
            out[f"{prefix}{name}"] = column
    return out


def customer(row: Row, plan: ColumnPlan, ctx: Context) -> Built:
    ident = identity_of(row, plan)
    traits: dict[str, Any] = {}
    if (json_column := plan.column("traits")) is not None:
        traits.update(json_object(row.cells.get(json_column), json_column))
    for name, column in plan.extras.items():
        if not is_empty(row.cells.get(column)):
            traits[name] = plain(row.cells[column], name)
    for target in ("name", "address"):
        personal = plan.column(target)
        if personal is not None and (value := text(row.cells.get(personal), personal)) is not None:
            traits[target] = value
    traits.update(ident.traits)
    body: dict[str, Any] = {"type": "identify", "traits": traits}
    ident.fill(body)
    if (when := _when(row, plan, "timestamp", False, ctx)) is not None:
        body["timestamp"] = when
    columns = {
        **_columns_for(plan, "traits.", (*TRAIT_TARGETS, "name", "address")),
        **{f"traits.{name}": column for name, column in plan.extras.items()},
        **_columns_for(plan, "", ("timestamp",)),
        "userId": plan.column("user_id") or "userId",
        "anonymousId": plan.column("anonymous_id") or "anonymousId",
    }
    anonymous = pseudonym(ctx, plan, ident)
    return finish(ctx, Kind.customers, body, anonymous, Built({}, [row.number], columns))


def event(row: Row, plan: ColumnPlan, ctx: Context, seen: dict[str, int]) -> Built:
    """A track message; `seen` counts identical rows so each copy keeps its own stable id."""
    event_column = str(plan.column("event"))
    name = text(row.cells.get(event_column), event_column)
    if name is None:
        raise ValidationFailed(f"{event_column} is empty", field=event_column)
    ident = identity_of(row, plan)
    properties: dict[str, Any] = {}
    if plan.column("properties"):
        column = str(plan.column("properties"))
        properties.update(json_object(row.cells.get(column), column))
    for key, column in plan.extras.items():
        if not is_empty(row.cells.get(column)):
            properties[key] = plain(row.cells[column], key)
    body: dict[str, Any] = {"type": "track", "event": name, "properties": properties}
    ident.fill(body)
    if ident.traits:
        body["context"] = {"traits": dict(ident.traits)}
    if (when := _when(row, plan, "timestamp", True, ctx)) is not None:
        body["timestamp"] = when
    columns = {
        **_columns_for(plan, "context.traits.", TRAIT_TARGETS),
        **{f"properties.{key}": column for key, column in plan.extras.items()},
        **_columns_for(plan, "", ("timestamp", "event")),
        "userId": plan.column("user_id") or "userId",
        "anonymousId": plan.column("anonymous_id") or "anonymousId",
    }
    anonymous = pseudonym(ctx, plan, ident)
    base = message_id(ctx, Kind.events, body)
    occurrence = seen.get(base, 0)
    seen[base] = occurrence + 1
    return finish(ctx, Kind.events, body, anonymous, Built({}, [row.number], columns), occurrence)


def build_rows(
    kind: Kind, rows: Iterable[Row], plan: ColumnPlan, ctx: Context
) -> tuple[list[Built], list[Reject]]:
    """Customers or events: one message per row; rows that fail a check are rejected, not raised."""
    built: list[Built] = []
    rejects: list[Reject] = []
    seen: dict[str, int] = {}
    for row in rows:
        try:
            built.append(customer(row, plan, ctx) if kind is Kind.customers else event(row, plan, ctx, seen))
        except ValidationFailed as exc:
            rejects.append(Reject(row.number, exc.field or "", exc.message))
    return built, rejects
