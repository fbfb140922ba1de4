"""Templates: missing variables caught at save time, sandbox escapes refused, filters, channel limits."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from siyu.core.errors import ValidationFailed
from siyu.core.settings import Settings
from siyu.messaging.limits import measure, sms_segments
from siyu.messaging.templates import money, problems, render, validate
from siyu.messaging.variables import build_context, context_schema

SCHEMA = context_schema(["skin_type", "birthday", "city"])
CONTEXT = build_context(
    customer_id=7,
    timezone="Asia/Shanghai",
    name="王芳",
    traits={"skin_type": "干性", "city": "杭州"},
    known_traits=["skin_type", "birthday", "city"],
    stats={
        "total_spent_minor": 123456,
        "orders_count": 3,
        "last_order_at": datetime(2024, 5, 1, 18, tzinfo=UTC),
    },
    tags=["VIP", "新客"],
    owner={"name": "小李", "userid": "lixiao"},
    coupon={"code": "BACK20", "amount_minor": 2000, "expires_at": "2024-05-31T15:59:00Z"},
    trigger={"order_id": "o-1"},
)

WELCOME = (
    "{{ customer.name }}您好,我是您的专属顾问{{ customer.owner.name }}。"
    "送您一张 {{ coupon.amount_minor | money }} 回归券:{{ coupon.code }},"
    "{{ coupon.expires_at | local_date('%m月%d日') }}前有效。"
    "{% if 'VIP' in customer.tags %}VIP 加赠小样。{% endif %}"
    "{% for tag in customer.tags %}#{{ tag }}{% if not loop.last %} {% endif %}{% endfor %}"
)


def test_a_valid_template_renders_for_one_customer() -> None:
    assert problems(WELCOME, SCHEMA) == []
    assert render(WELCOME, CONTEXT) == (
        "王芳您好,我是您的专属顾问小李。送您一张 ¥20.00 回归券:BACK20,05月31日前有效。"
        "VIP 加赠小样。#VIP #新客"
    )


def test_traits_the_customer_lacks_render_empty_not_none() -> None:
    assert render("[{{ customer.traits.birthday }}]", CONTEXT) == "[]"
    assert render("{{ customer.traits.get('shoe_size', '未知') }}", CONTEXT) == "未知"


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("{{ customer.traits.skin_tpe }}",
         "unknown variable customer.traits.skin_tpe (known in customer.traits: birthday, city, skin_type)"),
        ("{{ custmer.name }}", "unknown variable custmer"),
        ("{{ customer['stats']['spend'] }}", "unknown variable customer.stats.spend"),
        ("{{ customer.name.foo }}", "customer.name is str: it has no 'foo'"),
        ("{{ coupon.code.__class__ }}", "__class__: names starting with _ are not allowed"),
        ("{{ ''.__class__.__mro__ }}", "__class__: names starting with _ are not allowed"),
        ("{{ customer.name | shout }}", "No filter named 'shout'"),
        ("{{ customer.name | format('x') }}", "No filter named 'format'"),
        ("{% macro m() %}x{% endmacro %}", "macro is not allowed"),
        ("{% include 'other' %}", "include is not allowed"),
        ("{% for a in customer.tags %}{% for b in customer.tags %}{% for c in customer.tags %}"
         "{% endfor %}{% endfor %}{% endfor %}", "loops nest at most 2 deep"),
        ("{% if customer.name %}unclosed", "Unexpected end of template"),
    ],
)  # fmt: skip
def test_problems_are_found_at_save_time(source: str, message: str) -> None:
    found = problems(source, SCHEMA)
    assert found and message in found[0].message
    with pytest.raises(ValidationFailed) as err:
        validate(source, SCHEMA)
    assert err.value.field == "template" and "line 1" in err.value.message


def test_every_problem_is_listed_with_its_line() -> None:
    with pytest.raises(ValidationFailed) as err:
        validate("{{ customer.traits.a }}\n{{ coupon.cod }}", SCHEMA)
    assert "line 1: unknown variable customer.traits.a" in err.value.message
    assert "line 2: unknown variable coupon.cod" in err.value.message


def test_loop_variables_and_sets_are_local_and_anything_goes_under_trigger() -> None:
    source = (
        "{% set n = customer.stats.orders_count %}{{ n }} {{ trigger.order_id }} {{ trigger.items[0].sku }}"
    )
    assert problems(source, SCHEMA) == []


def test_source_length_limit() -> None:
    assert "longer than 100 characters" in problems("x" * 101, SCHEMA, max_chars=100)[0].message


@pytest.mark.parametrize(
    "source",
    [
        "{{ ''.__class__.__mro__[1].__subclasses__() }}",
        "{{ customer.__class__ }}",
        "{{ customer.tags.append('x') }}",  # immutable sandbox
        "{{ 'a' * 100000 }}",
        "{{ ''.ljust(100000000) }}",
        "{{ '%99999s' % 'x' }}",
        "{{ 2 ** 100000 }}",
        "{{ range(5000) | length }}",
        "{% for i in range(1000) %}{% for j in range(1000) %}{{ 'xxxxxxxxxx' }}{% endfor %}{% endfor %}",
        "{% macro m() %}{% endmacro %}",
    ],
)
def test_sandbox_refuses_escapes_and_resource_abuse(source: str) -> None:
    with pytest.raises(ValidationFailed) as err:
        render(source, CONTEXT)
    assert err.value.field == "template"


def test_a_missing_variable_at_send_time_is_an_error_not_a_blank() -> None:
    with pytest.raises(ValidationFailed, match="has no attribute 'shoe_size'"):
        render("{{ customer.traits.shoe_size }}", CONTEXT)


def test_html_templates_escape_customer_data() -> None:
    context = build_context(customer_id=1, timezone="UTC", name="<b>Ann</b>")
    assert render("<p>{{ customer.name }}</p>", context, html=True) == "<p>&lt;b&gt;Ann&lt;/b&gt;</p>"
    assert render("{{ customer.name }}", context) == "<b>Ann</b>"


def test_money_filter() -> None:
    assert money(1234) == "¥12.34"
    assert money(-5) == "-¥0.05"
    assert money(123456789) == "¥1,234,567.89"
    assert money(500, "JPY") == "¥500"
    assert money(1999, "SGD") == "19.99 SGD"
    assert money(None) == "" and money(True) == ""


def test_dates_are_shown_in_the_customer_zone() -> None:
    late = {"customer": {"timezone": "America/New_York"}, "at": datetime(2024, 5, 2, 2, 30, tzinfo=UTC)}
    assert render("{{ at | local_datetime }}", late) == "2024-05-01 22:30"
    assert (
        render("{{ customer.stats.last_order_at | local_date }}", CONTEXT) == "2024-05-02"
    )  # 02:00 Shanghai
    assert render("{{ '2024-02-29' | local_date('%m/%d') }}", CONTEXT) == "02/29"


SETTINGS = Settings()


def test_sms_length_counts_the_signature_and_segments() -> None:
    text = "您的订单已发货" * 9  # 63 characters
    check = measure("sms_aliyun", text, SETTINGS, signature="兰吉")  # 【兰吉】 adds 4
    assert (check.length, check.segments, check.ok) == (67, 1, True)
    assert measure("sms_tencent", "字" * 160, SETTINGS).segments == 3  # 67 + 67 + 26
    assert [sms_segments(n) for n in (70, 71, 134, 135)] == [1, 2, 2, 3]
    over = measure("sms", "x" * 501, SETTINGS)
    assert not over.ok and "超出上限" in over.texts()[0] and "over the limit" in over.texts()[1]


def test_wecom_limit_is_4000_utf8_bytes() -> None:
    assert measure("wecom", "好" * 1333, SETTINGS).length == 3999
    assert measure("wecom", "好" * 1333, SETTINGS).ok
    assert not measure("wecom", "好" * 1334, SETTINGS).ok
    assert measure("memory", "x" * 10**6, SETTINGS).limit is None
