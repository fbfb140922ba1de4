"""Net Promoter Score from `Survey Answered` events carrying `nps_score` (a whole number 0–10):
NPS = 100 × (promoters 9–10 − detractors 0–6) / valid answers. Other answers are ignored."""

from __future__ import annotations

from sqlalchemy import func, select

from siyu.analytics.definitions import SURVEY_ANSWERED, Cell, Computed, Context, Definition, register
from siyu.analytics.sqltime import as_date
from siyu.events.tables import Event

E = Event.__table__.c


def nps_class(raw: object) -> int | None:
    """+1 promoter, 0 passive, -1 detractor, None when not a whole number from 0 to 10."""
    try:
        score = float(str(raw))
    except ValueError:
        return None
    if score != int(score) or not 0 <= score <= 10:
        return None
    return 1 if score >= 9 else (0 if score >= 7 else -1)


def nps(ctx: Context) -> Computed:
    lo, hi = ctx.bounds
    score = E.properties["nps_score"].as_string()
    b = ctx.bucket(ctx.local(E.timestamp))
    query = select(b, score, func.count()).where(
        E.name == SURVEY_ANSWERED, E.timestamp >= lo, E.timestamp < hi, score.is_not(None)
    )
    out = Computed()
    for day, raw, n in ctx.session.execute(ctx.group(ctx.restrict(query, E.customer_id), b, score)):
        kind = nps_class(raw)
        if kind is not None and day is not None:
            out.series.setdefault(as_date(day), Cell(0.0, 0.0)).add(kind * n, n)
    return out


register(
    Definition("nps", "Net Promoter Score (NPS)", "净推荐值 NPS", "score",
               "Survey Answered events with nps_score 9–10 minus those with 0–6, in the bucket",
               "Survey Answered events with a valid nps_score (0–10) in the bucket", nps, scale=100.0),
)  # fmt: skip
