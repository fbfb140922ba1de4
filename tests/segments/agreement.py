"""Hypothesis strategies for the agreement property: random customer histories (events, traits, orders,
refunds, tags, RFM, lifecycle, owners, consent, time passing) and random condition trees over them."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from hypothesis import strategies as st

USERS = [f"p{i}" for i in range(5)]
EVENTS = ["View", "Add"]
TIERS = ["important_value", "general_retain", "general_win_back"]
STAGES = ["new", "returning", "dormant"]
TODAY = date(2026, 11, 1)


def _day(low: int, high: int) -> st.SearchStrategy[str]:
    return st.integers(low, high).map(lambda d: (TODAY + timedelta(days=d)).isoformat())


@st.composite
def operation(draw: st.DrawFn) -> tuple[str, dict[str, Any]]:
    kind = draw(
        st.sampled_from(
            ["track", "track", "track", "identify", "order", "refund", "page", "tag", "profile", "advance"]
        )
    )
    user = draw(st.sampled_from(USERS))
    hours = draw(st.integers(0, 24 * 12))
    if kind == "track":
        props = {"category": draw(st.sampled_from(["A", "B"]))} if draw(st.booleans()) else {}
        return kind, {"user": user, "event": draw(st.sampled_from(EVENTS)), "hours": hours, "props": props}
    if kind == "identify":
        traits = draw(
            st.fixed_dictionaries(
                {},
                optional={
                    "plan": st.sampled_from(["gold", "silver", None]),
                    "age": st.integers(18, 60),
                    "birthday": _day(-400, 400),
                    "signup": _day(-20, 20),
                    "interests": st.lists(st.sampled_from(["x", "y"]), max_size=2),
                    "email": st.sampled_from(["a@example.com", "b@example.com"]),
                },
            )
        )
        return kind, {"user": user, "traits": traits, "hours": hours}
    if kind == "order":
        return kind, {"user": user, "total": draw(st.sampled_from([0, 50, 150, 500])), "hours": hours,
                      "category": draw(st.sampled_from(["A", "B"]))}  # fmt: skip
    if kind == "refund":
        return kind, {"user": user, "hours": max(hours - 24, 0)}
    if kind == "page":
        return kind, {"user": user, "hours": hours}
    if kind == "tag":
        return kind, {"user": user, "add": draw(st.booleans())}
    if kind == "profile":
        field = draw(st.sampled_from(["rfm", "lifecycle", "owner", "consent"]))
        value = {
            "rfm": st.sampled_from(TIERS),
            "lifecycle": st.sampled_from(STAGES),
            "owner": st.sampled_from(["s1", "s2"]),
            "consent": st.sampled_from(["granted", "unsubscribed"]),
        }[field]
        return kind, {"user": user, "field": field, "value": draw(value)}
    return kind, {"hours": draw(st.integers(1, 24 * 9))}


def histories() -> st.SearchStrategy[list[list[tuple[str, dict[str, Any]]]]]:
    return st.lists(st.lists(operation(), min_size=1, max_size=4), min_size=1, max_size=8)


WINDOWS = st.one_of(
    st.none(),
    st.integers(1, 10).map(lambda n: {"last_days": n}),
    st.tuples(st.integers(-12, 0), st.integers(0, 5)).map(
        lambda t: {
            "between": [
                (TODAY + timedelta(days=t[0])).isoformat(),
                (TODAY + timedelta(days=t[0] + t[1])).isoformat(),
            ]
        }
    ),
)
COMPARE = st.sampled_from(["eq", "ne", "lt", "lte", "gt", "gte"])


def leaves(tag_id: int, segment_ids: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    options: list[st.SearchStrategy[dict[str, Any]]] = [
        st.builds(
            lambda op, v: {"type": "trait", "name": "plan", "op": op, "value": v},
            st.sampled_from(["eq", "ne"]),
            st.sampled_from(["gold", "silver"]),
        ),
        st.sampled_from(
            [
                {"type": "trait", "name": "plan", "op": "in", "value": ["gold", "silver"]},
                {"type": "trait", "name": "plan", "op": "exists"},
                {"type": "trait", "name": "email", "op": "not_exists"},
                {"type": "trait", "name": "interests", "op": "contains", "value": "x"},
                {"type": "identity", "identity_type": "email"},
                {"type": "order", "metric": "last_order_at", "op": "exists"},
            ]
        ),
        st.builds(
            lambda op, v: {"type": "trait", "name": "age", "op": op, "value": v}, COMPARE, st.integers(17, 61)
        ),
        st.builds(
            lambda op, n: {
                "type": "trait",
                "name": "birthday" if op == "anniversary_within_days" else "signup",
                "op": op,
                "value": n,
            },
            st.sampled_from(
                ["anniversary_within_days", "within_last_days", "before_days_ago", "within_next_days"]
            ),
            st.integers(1, 12),
        ),
        st.builds(
            lambda e, where, window, op, v: {
                "type": "event_count",
                "event": e,
                "where": where,
                "window": window,
                "op": op,
                "value": v,
            },
            st.sampled_from([*EVENTS, "$page"]),
            st.sampled_from(
                [
                    [],
                    [{"property": "category", "op": "eq", "value": "A"}],
                    [{"property": "category", "op": "ne", "value": "A"}],
                ]
            ),
            WINDOWS,
            COMPARE,
            st.integers(0, 3),
        ),
        st.builds(
            lambda metric, op, v, window: {
                "type": "order",
                "metric": metric,
                "op": op,
                "value": v,
                "window": window,
            },
            st.sampled_from(["count", "spend", "aov"]),
            COMPARE,
            st.sampled_from([0, 1, 2, 100, 150]),
            WINDOWS,
        ),
        st.builds(
            lambda metric, op, n: {"type": "order", "metric": metric, "op": op, "value": n},
            st.sampled_from(["last_order_at", "first_order_at"]),
            st.sampled_from(["within_last_days", "before_days_ago"]),
            st.integers(1, 10),
        ),
        st.builds(
            lambda c, w: {"type": "bought", "category": c, "window": w}, st.sampled_from(["A", "B"]), WINDOWS
        ),
        st.builds(lambda has: {"type": "tag", "tag_id": tag_id, "has": has}, st.booleans()),
        st.sampled_from(
            [
                {"type": "rfm", "tiers": TIERS[:2]},
                {"type": "lifecycle", "stages": ["dormant"]},
                {"type": "owner", "staff": ["s1"]},
                {"type": "owner", "has_owner": False},
                {"type": "consent", "channel": "sms", "status": "granted"},
                {"type": "consent", "channel": "sms", "status": "unknown"},
            ]
        ),
    ]
    if segment_ids:
        options.append(st.builds(lambda s, m: {"type": "segment", "segment_id": s, "member": m},
                                 st.sampled_from(segment_ids), st.booleans()))  # fmt: skip
    return st.one_of(*options)


def conditions(tag_id: int, segment_ids: list[int]) -> st.SearchStrategy[dict[str, Any]]:
    return st.recursive(
        leaves(tag_id, segment_ids),
        lambda inner: st.one_of(
            st.builds(
                lambda kids: {"type": "and", "children": kids}, st.lists(inner, min_size=1, max_size=3)
            ),
            st.builds(lambda kids: {"type": "or", "children": kids}, st.lists(inner, min_size=1, max_size=3)),
            st.builds(lambda kid: {"type": "not", "child": kid}, inner),
        ),
        max_leaves=5,
    )
