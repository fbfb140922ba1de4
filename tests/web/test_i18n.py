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


def test_stored_codes_have_labels_in_both_languages() -> None:
    """Every code the pages show through `label(prefix, code)` has words in 中文 and English."""
    from siyu.consent.tables import CHANNELS, PURPOSES
    from siyu.journeys.playbooks import PLAYBOOKS
    from siyu.journeys.service import playbook_parameters
    from siyu.journeys.tables import JOURNEY_STATUSES, STAT_METRICS
    from siyu.lifecycle.stages import LABELS as STAGES
    from siyu.messaging.tables import OUTBOX_STATUSES
    from siyu.rfm.tiers import TIERS
    from siyu.tags.tables import CATEGORIES, KINDS
    from siyu.web.console_builder import EXAMPLES, JS_STRINGS
    from siyu.web.console_insight import KPIS

    wanted = (
        [f"tier_{c}" for c in TIERS]
        + [f"stage_{c}" for c in STAGES]
        + [f"category_{c}" for c in CATEGORIES]
        + [f"kind_{c}" for c in KINDS]
        + [f"chan_{c}" for c in CHANNELS]
        + [f"purpose_{c}" for c in PURPOSES]
        + [f"journey_status_{c}" for c in JOURNEY_STATUSES]
        + [f"metric_{c}" for c in STAT_METRICS]
        + [f"outbox_{c}" for c in OUTBOX_STATUSES]
        + [f"playbook_{k}" for k in PLAYBOOKS]
        + [f"param_{p}" for k in PLAYBOOKS for p in playbook_parameters(k)]
        + [f"example_{k}" for k in EXAMPLES]
        + [f"kpi_{k}" for k in KPIS]
        + list(JS_STRINGS)
        + [
            f"node_{t}"
            for t in (
                "wait",
                "wait_event",
                "condition",
                "split",
                "send",
                "tag",
                "update_trait",
                "task",
                "webhook",
                "exit",
            )
        ]
        + [f"segment_kind_{k}" for k in ("dynamic", "static")]
    )
    for lang in i18n.LANGUAGES:
        missing = [key for key in wanted if key not in i18n.MESSAGES[lang]]
        assert missing == [], (lang, missing)
    assert i18n.translate("zh", "tier_important_value") == "重要价值"  # the same words as the RFM package
    for code, chinese in TIERS.items():
        assert i18n.translate("zh", f"tier_{code}") == chinese
    for code, chinese in STAGES.items():
        assert i18n.translate("zh", f"stage_{code}") == chinese


def test_catalogues_never_define_a_key_twice() -> None:
    seen: dict[str, str] = {}
    for module in i18n.CATALOGUES:
        for key in module.ZH:
            assert key not in seen, f"{key} in {module.__name__} and {seen[key]}"
            seen[key] = module.__name__
        assert set(module.ZH) == set(module.EN), module.__name__


def test_figures_and_heat() -> None:
    assert i18n.format_minor(49800, "CNY") == "¥498.00"
    assert i18n.format_minor(None, "CNY") == "—"
    assert i18n.format_percent(0.114) == "11.4%"
    assert i18n.format_figure(0.7477477477) == "0.7477"
    assert i18n.format_figure([0.01, 0.02]) == "0.01 → 0.02"
    assert i18n.format_figure(1234) == "1,234"
    assert [i18n.heat_level(x) for x in (None, 0.0, 0.05, 0.2, 0.49, 0.5, 1.0)] == [0, 0, 1, 2, 3, 4, 5]
    assert i18n.format_day(datetime(2026, 3, 1, 16, 30, tzinfo=UTC)) == "2026-03-01"
