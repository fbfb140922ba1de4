"""Writing RFM results: the full rewrite of `rfm_scores` as one INSERT … SELECT that scores in SQL (the
same formula as `scoring.score`, with the run's cut points as parameters), upserts for refreshes, and
the value tags brought in line with the scores by anti-joins (only differences reach the tag service).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import BindParameter, bindparam, select, text
from sqlalchemy.orm import Session

from siyu.core import fastsql
from siyu.core.database import chunks
from siyu.customers.tables import Customer
from siyu.rfm.facts import CHUNK, Facts
from siyu.rfm.scoring import BY_BITS, CutPoints, Cuts, Scored
from siyu.rfm.tiers import TIERS
from siyu.tags import service as tags
from siyu.tags.tables import Tag, TagGroup

TAG_GROUP = "RFM 价值分层"
BIG_WORK_MEM = "128MB"
CHECK_LIMIT = 50_000  # untagged customers up to which a full run counts rather than anti-joins
ACTOR = "system:rfm"
COLUMNS = ("customer_id", "recency_days", "frequency", "monetary_minor", "r", "f", "m", "tier", "computed_at")


def _score_sql(column: str, cuts: Cuts, name: str, params: dict[str, Any], *, higher_is_better: bool) -> str:
    terms = ["1"]
    for k, cut in enumerate(cuts, start=2):
        if cut is not None:
            params[f"{name}{k}"] = cut
            op = ">=" if higher_is_better else "<="
            terms.append(f"CASE WHEN {column} {op} :{name}{k} THEN 1 ELSE 0 END")
    return " + ".join(terms)


def rewrite(session: Session, facts_table: str, cuts: CutPoints, high_score: int, now: datetime) -> None:
    """Replace every row of `rfm_scores` with the scored facts of `facts_table`."""
    params: dict[str, Any] = {"high": high_score, "now": fastsql.db_time(fastsql.dialect(session), now)}
    r = _score_sql("recency_days", cuts.recency_days, "r", params, higher_is_better=False)
    f = _score_sql("frequency", cuts.frequency, "f", params, higher_is_better=True)
    m = _score_sql("monetary", cuts.monetary, "m", params, higher_is_better=True)
    bits = (
        "(CASE WHEN m >= :high THEN 4 ELSE 0 END + CASE WHEN r >= :high THEN 2 ELSE 0 END"
        " + CASE WHEN f >= :high THEN 1 ELSE 0 END)"
    )
    tier = f"CASE {bits} " + " ".join(f"WHEN {b} THEN '{code}'" for b, code in enumerate(BY_BITS)) + " END"
    # OFFSET keeps the scoring subquery from being merged into the outer one (r, f, m computed once)
    fence = "LIMIT -1 OFFSET 0" if fastsql.dialect(session) == "sqlite" else "OFFSET 0"
    restore = _emptied(session)
    # expressions are built from code and cut points travel as parameters
    sql = (
        f"INSERT INTO rfm_scores ({', '.join(COLUMNS)})"  # noqa: S608
        f" SELECT customer_id, recency_days, frequency, monetary, r, f, m, {tier}, :now FROM"
        f" (SELECT customer_id, recency_days, frequency, monetary, {r} AS r, {f} AS f, {m} AS m"
        f" FROM {facts_table} {fence}) scored"
    )
    session.execute(text(sql), params)
    for statement in restore:
        session.connection().exec_driver_sql(statement)


def _emptied(session: Session) -> list[str]:
    """Empty rfm_scores for the rewrite; returns the statements that rebuild what was dropped.

    SQLite drops the table's pages when DELETE has no WHERE. On PostgreSQL a DELETE would leave a dead
    row version per customer for every unique check of the new rows to visit; TRUNCATE (transactional,
    its lock held until commit: readers of rfm_scores wait for the run) starts from empty files, and the
    primary key and indexes are dropped and built again after the insert (one sort each instead of a
    million B-tree descents)."""
    if fastsql.dialect(session) != "postgresql":
        session.execute(text("DELETE FROM rfm_scores"))
        return []
    session.execute(text("TRUNCATE rfm_scores"))
    constraints = session.execute(
        text(
            "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
            " WHERE conrelid = CAST('rfm_scores' AS regclass) AND contype IN ('p', 'u')"
        )
    ).all()
    indexes = session.execute(
        text(
            "SELECT i.indexname, i.indexdef FROM pg_indexes i WHERE i.schemaname = current_schema()"
            " AND i.tablename = 'rfm_scores'"
            " AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conname = i.indexname)"
        )
    ).all()
    restore: list[str] = []
    run = session.connection().exec_driver_sql
    for name, definition in constraints:
        run(f'ALTER TABLE rfm_scores DROP CONSTRAINT "{name}"')
        restore.append(f'ALTER TABLE rfm_scores ADD CONSTRAINT "{name}" {definition}')
    for name, definition in indexes:
        run(f'DROP INDEX "{name}"')
        restore.append(str(definition))
    return restore


def upsert(session: Session, found: Facts, scored: Scored, now: datetime) -> None:
    kind = fastsql.dialect(session)
    updates = ", ".join(f"{c} = excluded.{c}" for c in COLUMNS[1:])
    insert = fastsql.insert_sql(kind, "rfm_scores", COLUMNS)
    at = fastsql.db_time(kind, now)
    rows = zip(
        found.customer_id.tolist(),
        found.recency_days.tolist(),
        found.frequency.tolist(),
        found.monetary.tolist(),
        scored.r.tolist(),
        scored.f.tolist(),
        scored.m.tolist(),
        scored.tier.tolist(),
        [at] * len(found),
        strict=True,
    )
    fastsql.run_many(session, f"{insert} ON CONFLICT (customer_id) DO UPDATE SET {updates}", list(rows))


def system_tag_ids(
    session: Session, group: str, labels: Mapping[str, str], *, category: str, description: str
) -> dict[str, int]:
    """Code → tag id of an exclusive rule group siyu maintains itself (one tag per code, named by its
    label): one lookup query when the tags exist, created through the tag service the first time."""
    query = (
        select(Tag.name, Tag.id)
        .join(TagGroup, TagGroup.id == Tag.group_id)
        .where(TagGroup.name == group, Tag.name.in_(list(labels.values())))
    )
    by_label = {str(name): int(tag_id) for name, tag_id in session.execute(query)}
    if len(by_label) < len(labels):
        g = tags.ensure_group(
            session, group, category=category, kind="rule", exclusive=True, description=description
        )
        for code, label in labels.items():
            by_label[label] = tags.ensure_tag(session, g.id, label, description=f"{description}: {code}").id
    return {code: by_label[label] for code, label in labels.items()}


def tier_tags(session: Session) -> dict[str, int]:
    """Tier code → tag id in the `RFM 价值分层` group (created on first use)."""
    return system_tag_ids(session, TAG_GROUP, TIERS, category="value", description="RFM value tier")


def _merged_away(session: Session, ids: Sequence[int]) -> set[int]:
    query = select(Customer.id).where(Customer.merged_into_id.is_not(None))
    out: set[int] = set()
    for part in chunks(ids, CHUNK):
        out.update(session.scalars(query.where(Customer.id.in_(part))))
    return out


def _tier_to_tag(ids: dict[str, int], params: dict[str, Any]) -> str:
    params.update({f"tag_{code}": tag_id for code, tag_id in ids.items()})
    return "CASE s.tier " + " ".join(f"WHEN '{code}' THEN :tag_{code}" for code in ids) + " END"


def _only_scored_hold_tags(session: Session, tags: BindParameter[list[int]], untagged: Sequence[int]) -> bool:
    """Whether no unscored customer holds a value tag, counted instead of anti-joined (the full run's
    usual case). The scored customers outside `untagged` each hold their tier's tag: a row of their
    own among the value-tag rows. If those rows, plus the (wrong-tier) value-tag rows of the untagged,
    are all the value-tag rows there are, no other customer holds one."""
    if len(untagged) > CHECK_LIMIT:  # e.g. the first run: the anti-join is cheaper than the counts
        return False
    count = "SELECT count(*) FROM customer_tags WHERE tag_id IN :tags"
    total = int(session.execute(text(count).bindparams(tags)).scalar_one())
    scored = int(session.execute(text("SELECT count(*) FROM rfm_scores")).scalar_one())
    theirs = 0
    for part in chunks(sorted(untagged), CHUNK):
        within: BindParameter[list[int]] = bindparam("ids", list(part), expanding=True)
        query = text(count + " AND customer_id IN :ids").bindparams(tags, within)
        theirs += int(session.execute(query).scalar_one())
    return total == scored - len(untagged) + theirs


def sync_tags(session: Session, scope: Sequence[int] | None, now: datetime, *, reason: str) -> None:
    """Bring the value tags of the customers in `scope` (everyone when None) in line with `rfm_scores`:
    each scored customer carries their tier's tag (the exclusive group drops the old one), an unscored
    customer none; two anti-join queries find the differences (for everyone, the second only when a count
    says there can be any). Customers merged into another are the
    merge's business and are left alone (they have no orders, so no score)."""
    ids = tier_tags(session)
    if scope is None and fastsql.dialect(session) == "postgresql":  # hash a million rows in memory
        session.execute(text(f"SET LOCAL work_mem = '{BIG_WORK_MEM}'"))
    code_of = {tag_id: code for code, tag_id in ids.items()}
    params: dict[str, Any] = {}
    missing = (
        "SELECT s.customer_id, s.tier FROM rfm_scores s WHERE NOT EXISTS (SELECT 1 FROM customer_tags t"  # noqa: S608 (codes and marks only)
        f" WHERE t.customer_id = s.customer_id AND t.tag_id = {_tier_to_tag(ids, params)}"
        " AND t.tag_id IN :tags)"  # only the value tags' rows are hashed or searched
    )
    unscored = (
        "SELECT t.customer_id, t.tag_id FROM customer_tags t WHERE t.tag_id IN :tags"
        " AND NOT EXISTS (SELECT 1 FROM rfm_scores s WHERE s.customer_id = t.customer_id)"
    )
    tag_list: BindParameter[list[int]] = bindparam("tags", list(ids.values()), expanding=True)
    add: dict[str, list[int]] = {code: [] for code in ids}
    remove: dict[str, list[int]] = {code: [] for code in ids}
    for part in [None] if scope is None else chunks(scope, CHUNK):
        q_missing, q_unscored = text(missing).bindparams(tag_list), text(unscored).bindparams(tag_list)
        if part is not None:
            within: BindParameter[list[int]] = bindparam("ids", list(part), expanding=True)
            q_missing = text(missing + " AND s.customer_id IN :ids").bindparams(tag_list, within)
            q_unscored = text(unscored + " AND t.customer_id IN :ids").bindparams(tag_list, within)
        untagged = [(int(c), str(code)) for c, code in session.execute(q_missing, params)]
        for cid, code in untagged:
            add[code].append(cid)
        if part is None and _only_scored_hold_tags(session, tag_list, [c for c, _ in untagged]):
            continue
        found = [(int(c), int(t)) for c, t in session.execute(q_unscored)]
        merged = _merged_away(session, [c for c, _ in found])
        for cid, tag_id in found:
            if cid not in merged:
                remove[code_of[tag_id]].append(cid)
    for code, tag_id in ids.items():
        if add[code] or remove[code]:
            tags.apply(
                session, tag_id, add=add[code], remove=remove[code], actor=ACTOR, reason=reason, at=now
            )
