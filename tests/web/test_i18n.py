"""Console strings: both languages complete, every key the templates use exists, values formatted."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

from siyu.web import i18n

TEMPLATES = Path(i18n.__file__).parent / "templates"


def test_languages_have_the_same_keys() -> None:
    assert set(i18n.MESSAGES) == set(i18n.LANGUAGES)
    assert set(i18n.MESSAGES["zh"]) == set(i18n.MESSAGES["en"])


def test_every_key_used_by_a_template_exists() -> None:
    used: set[str] = set()
    for template in TEMPLATES.glob("*.html"):
        used |= set(re.findall(r"\bt\('([a-z0-9_]+)'", template.read_text()))
    assert used, "templates use t('key')"
    assert used <= set(i18n.MESSAGES["zh"])


def test_placeholders_match_between_languages() -> None:
    def names(text: str) -> set[str]:
        return set(re.findall(r"{(\w+)}", text))

    for key, text in i18n.MESSAGES["zh"].items():
        assert names(text) == names(i18n.MESSAGES["en"][key]), key


def test_language_choice_defaults_to_chinese() -> None:
    assert i18n.pick_language(None, None) == "zh"
    assert i18n.pick_language("fr", "en") == "en"
    assert i18n.pick_language("en", "zh") == "en"


def test_labels_and_formatting() -> None:
    assert i18n.translate("zh", "stat_total_spent") == "累计消费"
    assert i18n.translate("en", "customer_n", id=7) == "Customer #7"
    assert i18n.translate("en", "no_such_key") == "no_such_key"
    assert i18n.label("zh", "id_", "phone") == "手机号"
    assert i18n.label("zh", "id_", "loyalty_card") == "loyalty_card"
    assert i18n.format_money("1234.5", "CNY") == "¥1,234.5"
    assert i18n.format_money("1234.50", "CNY") == "¥1,234.50"
    assert i18n.format_money("-3.00", "USD") == "-$3.00"
    assert i18n.format_money("100", "KRW") == "KRW 100"
    assert i18n.format_money(None, "CNY") == "—"
    assert i18n.format_number(12345) == "12,345"
    when = datetime(2026, 3, 1, 16, 30, tzinfo=UTC)
    assert i18n.format_time(when, "Asia/Shanghai") == "2026-03-02 00:30"
    assert i18n.format_time(None, "Asia/Shanghai") == "—"
