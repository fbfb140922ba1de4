"""Message templates: Jinja2 in an immutable sandbox with StrictUndefined. `validate` finds unknown
variables at save time (attribute paths like `customer.traits.skin_type` checked against a schema);
`render` fills a template for one customer; `money` and `local_date` / `local_datetime` filters.

Safety beyond the sandbox: no macros/includes/imports, loops nested at most twice, `range` ≤ 1000,
a short list of filters, no huge repeat counts or widths, and the output is capped while it is produced.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from typing import Any

from jinja2 import StrictUndefined, TemplateError, meta, nodes, pass_context
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment

from siyu.commerce.money import exponent, from_minor
from siyu.core.errors import ValidationFailed
from siyu.core.settings import get_settings

from .localtime import zone
from .variables import check_path

MAX_RANGE = 1000
MAX_LOOP_DEPTH = 2
MAX_ARGUMENT = 10_000  # largest number passed to a method or repeated with `*`
MAX_OUTPUT_CHARS = 1_000_000
SAFE_FILTERS = ("abs", "capitalize", "count", "d", "default", "e", "escape", "first", "float", "int", "join",
                "last", "length", "list", "lower", "max", "min", "replace", "round", "sort", "string",
                "striptags", "sum", "title", "trim", "truncate", "unique", "upper", "urlencode")  # fmt: skip
FORBIDDEN = (nodes.Macro, nodes.CallBlock, nodes.Import, nodes.FromImport, nodes.Include, nodes.Extends)
SYMBOLS = {"CNY": "¥", "JPY": "¥", "USD": "$", "HKD": "HK$", "TWD": "NT$", "EUR": "€", "GBP": "£"}
_WIDE_FORMAT = re.compile(r"%[-+ #0]*(\d{4,}|\*)")


def _range(*args: int) -> range:
    span = range(*args)
    if len(span) > MAX_RANGE:
        raise SecurityError(f"range is limited to {MAX_RANGE} items")
    return span


class _Sandbox(ImmutableSandboxedEnvironment):
    intercepted_binops = frozenset({"*", "**", "%"})

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise SecurityError("exponent too large")
        sequence = any(isinstance(x, str | list | tuple) for x in (left, right))
        if (
            operator == "*"
            and sequence
            and any(isinstance(x, int) and x > MAX_ARGUMENT for x in (left, right))
        ):
            raise SecurityError("repeat count too large")
        if operator == "%" and isinstance(left, str) and _WIDE_FORMAT.search(left):
            raise SecurityError("format width too large")
        return super().call_binop(context, operator, left, right)

    def call(__self, __context: Context, __obj: Any, *args: Any, **kwargs: Any) -> Any:
        if any(isinstance(a, int) and abs(a) > MAX_ARGUMENT for a in (*args, *kwargs.values())):
            raise SecurityError(f"numbers passed to a call are limited to {MAX_ARGUMENT}")
        return super().call(__context, __obj, *args, **kwargs)


def _aware(value: Any) -> datetime | date | None:
    if isinstance(value, datetime | date):
        return value
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            return None
    return None


@pass_context
def local_datetime(context: Context, value: Any, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A datetime (or ISO text) shown in the customer's zone (`customer.timezone`)."""
    moment = _aware(value)
    if moment is None:
        return "" if value is None else str(value)
    if isinstance(moment, datetime) and moment.tzinfo is not None:
        customer = context.get("customer")
        name = customer.get("timezone") if isinstance(customer, Mapping) else None
        moment = moment.astimezone(zone(name or "Asia/Shanghai"))
    return moment.strftime(fmt)


@pass_context
def local_date(context: Context, value: Any, fmt: str = "%Y-%m-%d") -> str:
    return str(local_datetime(context, value, fmt))


def money(minor: Any, currency: str = "CNY") -> str:
    """Minor units → `¥1,234.50` (CNY 分 → 元); other currencies without a symbol: `1,234.50 SGD`."""
    if minor is None or isinstance(minor, bool) or not isinstance(minor, int | Decimal | str):
        return ""
    try:
        amount = from_minor(int(minor), currency)
    except ValueError:
        return str(minor)
    places = exponent(currency)
    text = f"{abs(amount):,.{places}f}"
    sign = "-" if amount < 0 else ""
    symbol = SYMBOLS.get(currency.upper())
    return f"{sign}{symbol}{text}" if symbol else f"{sign}{text} {currency.upper()}"


@lru_cache(maxsize=2)
def environment(html: bool = False) -> ImmutableSandboxedEnvironment:
    """The sandbox (one for text, one autoescaping for HTML email bodies)."""
    env = _Sandbox(undefined=StrictUndefined, autoescape=html, finalize=lambda v: "" if v is None else v)
    env.filters = {name: env.filters[name] for name in SAFE_FILTERS}
    env.filters.update(money=money, local_date=local_date, local_datetime=local_datetime)
    env.globals = {"range": _range}
    return env


@dataclass(frozen=True)
class Problem:
    message: str
    line: int | None = None
    variable: str | None = None


def _structure(ast: nodes.Template) -> list[Problem]:
    found = [Problem(f"{type(n).__name__.lower()} is not allowed in message templates", n.lineno)
             for n in ast.find_all(FORBIDDEN)]  # fmt: skip
    for lookup in ast.find_all((nodes.Getattr, nodes.Getitem)):
        key: Any = lookup.attr if isinstance(lookup, nodes.Getattr) else getattr(lookup, "arg", None)
        key = getattr(key, "value", key)
        if isinstance(key, str) and key.startswith("_"):
            found.append(Problem(f"{key}: names starting with _ are not allowed", lookup.lineno))

    def depth(node: nodes.Node, level: int) -> None:
        for child in node.iter_child_nodes():
            inner = level + isinstance(child, nodes.For)
            if inner > MAX_LOOP_DEPTH:
                found.append(Problem(f"loops nest at most {MAX_LOOP_DEPTH} deep", child.lineno))
                return
            depth(child, inner)

    depth(ast, 0)
    return found


def _chains(ast: nodes.Template, names: set[str]) -> list[tuple[list[str | int], int]]:
    """Attribute paths rooted at template variables (`customer.traits.x` → ["customer", "traits", "x"])."""
    lookups = list(ast.find_all((nodes.Getattr, nodes.Getitem)))
    inner = {id(n.node) for n in lookups if isinstance(n, nodes.Getattr | nodes.Getitem)}
    paths: list[tuple[list[str | int], int]] = []
    for outer in (n for n in lookups if id(n) not in inner):
        parts: list[str | int] = []
        node: nodes.Node = outer
        while isinstance(node, nodes.Getattr | nodes.Getitem):
            if isinstance(node, nodes.Getattr):
                parts.append(node.attr)
            elif isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
                parts.append(node.arg.value)
            else:
                parts.clear()  # a computed key: check only what comes before it
            node = node.node
        if isinstance(node, nodes.Name) and node.name in names:
            paths.append(([node.name, *reversed(parts)], outer.lineno))
    for name_node in ast.find_all(nodes.Name):
        if name_node.ctx == "load" and name_node.name in names:
            paths.append(([name_node.name], name_node.lineno))
    return paths


def problems(
    source: str, schema: Mapping[str, Any], *, html: bool = False, max_chars: int | None = None
) -> list[Problem]:
    """Everything wrong with `source` given the variables in `schema` (see `variables`); `max_chars`
    defaults to the setting `template_max_source_chars`."""
    limit = get_settings().template_max_source_chars if max_chars is None else max_chars
    if len(source) > limit:
        return [Problem(f"template is longer than {limit} characters")]
    env = environment(html)
    try:
        ast = env.parse(source)
        env.compile(ast)  # unknown filters and tests fail here
    except TemplateError as exc:
        return [Problem(str(exc.message or exc), getattr(exc, "lineno", None))]
    found = _structure(ast)
    names = set(meta.find_undeclared_variables(ast))
    for path, line in _chains(ast, names):
        message = check_path(path, schema)
        if message is not None:
            found.append(Problem(message, line, ".".join(str(p) for p in path)))
    unique = {(p.message, p.line): p for p in found}
    return sorted(unique.values(), key=lambda p: (p.line or 0, p.message))


def validate(
    source: str,
    schema: Mapping[str, Any],
    *,
    html: bool = False,
    field: str = "template",
    max_chars: int | None = None,
) -> None:
    """ValidationFailed listing every problem (line numbers included) — at save time, not at send time."""
    found = problems(source, schema, html=html, max_chars=max_chars)
    if found:
        listed = "; ".join(f"line {p.line}: {p.message}" if p.line else p.message for p in found)
        raise ValidationFailed(f"{field}: {listed}", field=field)


@lru_cache(maxsize=1024)
def _compiled(source: str, html: bool) -> Any:
    env = environment(html)
    ast = env.parse(source)
    bad = _structure(ast)
    if bad:
        raise ValidationFailed(f"template: {bad[0].message}", field="template")
    return env.from_string(ast)


def render(
    source: str, context: Mapping[str, Any], *, html: bool = False, max_chars: int = MAX_OUTPUT_CHARS
) -> str:
    """The template filled for one customer; ValidationFailed for a missing variable, a refused operation
    or output longer than `max_chars`."""
    try:
        template = _compiled(source, html)
        pieces, size = [], 0
        for chunk in template.generate(dict(context)):
            size += len(chunk)
            if size > max_chars:
                raise ValidationFailed(
                    f"template: output is longer than {max_chars} characters", field="template"
                )
            pieces.append(chunk)
    except SecurityError as exc:
        raise ValidationFailed(f"template: refused by the sandbox: {exc}", field="template") from None
    except TemplateError as exc:
        raise ValidationFailed(f"template: {exc.message or exc}", field="template") from None
    return "".join(pieces)
