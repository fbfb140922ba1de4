"""Console strings (Simplified Chinese by default, English) and the locale-aware formatting of values.

Every word the console shows is a key in `MESSAGES`; both languages carry the same keys (a test checks).
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"

MESSAGES: dict[str, dict[str, str]] = {
    "zh": {
        "lang_name": "中文",
        "html_lang": "zh-CN",
        "brand": "私域",
        "console": "运营控制台",
        "nav_customers": "客户",
        "switch_language": "English",
        "sign_in": "登录",
        "sign_out": "退出登录",
        "signin_title": "登录运营控制台",
        "signin_lead": "使用 API 令牌登录。令牌决定你的角色，以及能否看到完整的个人信息。",
        "token_label": "API 令牌",
        "token_help": "管理员可以用 siyu token create --name 名称 --role admin 创建令牌。",
        "error_empty_token": "请输入 API 令牌。",
        "error_bad_token": "令牌无效或已被吊销。",
        "error_cross_site": "拒绝了来自其他站点的请求。",
        "error_too_large": "提交的内容过大。",
        "error_search": "搜索条件有误：{detail}",
        "error_request": "请求有误：{detail}",
        "signed_in_as": "{name}（{role}）",
        "role_admin": "管理员",
        "role_compliance": "合规",
        "role_operator": "运营",
        "role_analyst": "分析师",
        "role_advisor": "顾问",
        "role_viewer": "只读",
        "customers_title": "客户",
        "search_by": "搜索方式",
        "search_by_identity": "按身份",
        "search_by_trait": "按属性",
        "search_query": "搜索内容",
        "search_placeholder": "phone:13912345678",
        "search_button": "搜索",
        "search_clear": "清除",
        "search_help": (
            "身份写作 类型:值，如 phone:13912345678、email:a@example.com、user_id:u123；"
            "直接输入手机号或邮箱也可以。属性写作 名称:值，如 plan:gold。留空则浏览全部客户。"
        ),
        "results_none": "没有找到客户。",
        "results_count": "本页 {count} 位客户",
        "col_customer": "客户",
        "col_phone": "手机号",
        "col_email": "邮箱",
        "col_orders": "订单数",
        "col_total_spent": "累计消费",
        "col_last_seen": "最近出现",
        "next_page": "下一页",
        "first_page": "回到第一页",
        "newest_page": "回到最新",
        "customer_n": "客户 #{id}",
        "profile_title": "客户详情",
        "back_to_customers": "返回客户列表",
        "merged_note": "客户 #{requested} 已合并到客户 #{id}，下面显示合并后的档案。",
        "masked_note": "个人信息已脱敏：你的角色没有 pii 权限。",
        "created_at": "建档时间",
        "section_stats": "统计",
        "section_identities": "身份",
        "section_traits": "属性",
        "section_lineage": "合并记录",
        "section_timeline": "事件时间线",
        "stat_total_spent": "累计消费",
        "stat_orders": "订单数",
        "stat_aov": "客单价",
        "stat_events": "事件数",
        "stat_refunded": "已退款",
        "stat_first_seen": "首次出现",
        "stat_last_seen": "最近出现",
        "stat_first_order": "首次下单",
        "stat_last_order": "最近下单",
        "identity_type": "类型",
        "identity_value": "值",
        "first_seen": "首次出现",
        "trait_name": "名称",
        "trait_value": "值",
        "none_identities": "没有身份。",
        "none_traits": "没有属性。",
        "none_merges": "没有合并记录。",
        "none_events": "没有事件。",
        "merge_time": "时间",
        "merge_survivor": "保留客户",
        "merge_merged": "被合并客户",
        "merge_reason": "原因",
        "merge_actor": "操作人",
        "merge_status": "状态",
        "merge_active": "生效中",
        "merge_undone": "{when} 由 {by} 撤销",
        "event_time": "时间",
        "event_type": "类型",
        "event_name": "名称",
        "event_details": "内容",
        "event_raw": "原始数据",
        "event_type_track": "行为",
        "event_type_identify": "识别",
        "event_type_page": "页面",
        "event_type_screen": "屏幕",
        "event_type_group": "群组",
        "event_type_alias": "关联",
        "id_user_id": "用户 ID",
        "id_anonymous_id": "匿名 ID",
        "id_phone": "手机号",
        "id_email": "邮箱",
        "id_member_id": "会员号",
        "id_unionid": "UnionID",
        "id_openid": "OpenID",
        "id_wecom_external_userid": "企业微信外部联系人",
        "error_title": "出错了",
        "error_not_found": "没有找到这个客户。",
        "error_page_not_found": "页面不存在。",
        "error_forbidden": "你的角色没有查看客户的权限。",
        "times_in_zone": "时间按 {zone} 显示。",
        "empty": "—",
    },
    "en": {
        "lang_name": "English",
        "html_lang": "en",
        "brand": "siyu",
        "console": "Operator console",
        "nav_customers": "Customers",
        "switch_language": "中文",
        "sign_in": "Sign in",
        "sign_out": "Sign out",
        "signin_title": "Sign in to the console",
        "signin_lead": "Sign in with an API token. The token's role decides what you may see in full.",
        "token_label": "API token",
        "token_help": "An admin creates one with siyu token create --name NAME --role admin.",
        "error_empty_token": "Enter an API token.",
        "error_bad_token": "Unknown or revoked token.",
        "error_cross_site": "A request from another site was refused.",
        "error_too_large": "The form you sent is too large.",
        "error_search": "Invalid search: {detail}",
        "error_request": "Invalid request: {detail}",
        "signed_in_as": "{name} ({role})",
        "role_admin": "admin",
        "role_compliance": "compliance",
        "role_operator": "operator",
        "role_analyst": "analyst",
        "role_advisor": "advisor",
        "role_viewer": "viewer",
        "customers_title": "Customers",
        "search_by": "Search by",
        "search_by_identity": "Identity",
        "search_by_trait": "Trait",
        "search_query": "Search for",
        "search_placeholder": "phone:13912345678",
        "search_button": "Search",
        "search_clear": "Clear",
        "search_help": (
            "An identity is TYPE:VALUE, e.g. phone:13912345678, email:a@example.com, user_id:u123; "
            "a bare phone number or email works too. A trait is NAME:VALUE, e.g. plan:gold. "
            "Leave it empty to browse every customer."
        ),
        "results_none": "No customers found.",
        "results_count": "{count} customers on this page",
        "col_customer": "Customer",
        "col_phone": "Phone",
        "col_email": "Email",
        "col_orders": "Orders",
        "col_total_spent": "Total spent",
        "col_last_seen": "Last seen",
        "next_page": "Next page",
        "first_page": "First page",
        "newest_page": "Newest",
        "customer_n": "Customer #{id}",
        "profile_title": "Customer profile",
        "back_to_customers": "Back to customers",
        "merged_note": "Customer #{requested} was merged into customer #{id}; the merged profile is shown.",
        "masked_note": "Personal data is masked: your role lacks the pii permission.",
        "created_at": "Created",
        "section_stats": "Stats",
        "section_identities": "Identities",
        "section_traits": "Traits",
        "section_lineage": "Merge lineage",
        "section_timeline": "Event timeline",
        "stat_total_spent": "Total spent",
        "stat_orders": "Orders",
        "stat_aov": "Average order value",
        "stat_events": "Events",
        "stat_refunded": "Refunded",
        "stat_first_seen": "First seen",
        "stat_last_seen": "Last seen",
        "stat_first_order": "First order",
        "stat_last_order": "Last order",
        "identity_type": "Type",
        "identity_value": "Value",
        "first_seen": "First seen",
        "trait_name": "Name",
        "trait_value": "Value",
        "none_identities": "No identities.",
        "none_traits": "No traits.",
        "none_merges": "No merges.",
        "none_events": "No events.",
        "merge_time": "When",
        "merge_survivor": "Survivor",
        "merge_merged": "Merged",
        "merge_reason": "Reason",
        "merge_actor": "By",
        "merge_status": "Status",
        "merge_active": "active",
        "merge_undone": "undone {when} by {by}",
        "event_time": "Time",
        "event_type": "Type",
        "event_name": "Name",
        "event_details": "Details",
        "event_raw": "Raw data",
        "event_type_track": "track",
        "event_type_identify": "identify",
        "event_type_page": "page",
        "event_type_screen": "screen",
        "event_type_group": "group",
        "event_type_alias": "alias",
        "id_user_id": "User ID",
        "id_anonymous_id": "Anonymous ID",
        "id_phone": "Phone",
        "id_email": "Email",
        "id_member_id": "Member ID",
        "id_unionid": "UnionID",
        "id_openid": "OpenID",
        "id_wecom_external_userid": "WeCom external contact",
        "error_title": "Something went wrong",
        "error_not_found": "No such customer.",
        "error_page_not_found": "No such page.",
        "error_forbidden": "Your role may not view customers.",
        "times_in_zone": "Times are shown in {zone}.",
        "empty": "—",
    },
}

CURRENCY_SYMBOLS = {"CNY": "¥", "USD": "$", "EUR": "€", "GBP": "£", "HKD": "HK$", "JPY": "JP¥"}


def pick_language(*candidates: str | None) -> str:
    """The first candidate that is a supported language, else the default (Simplified Chinese)."""
    for candidate in candidates:
        if candidate in LANGUAGES:
            return candidate
    return DEFAULT_LANGUAGE


def translate(lang: str, key: str, **values: Any) -> str:
    """The text of `key` in `lang`, with `{placeholders}` filled; an unknown key shows itself."""
    text = MESSAGES.get(lang, MESSAGES[DEFAULT_LANGUAGE]).get(key)
    if text is None:
        return key
    return text.format(**values) if values else text


def label(lang: str, prefix: str, name: str) -> str:
    """A label for a stored name (identity type, event type, role), or the name itself if unknown."""
    text = MESSAGES.get(lang, {}).get(f"{prefix}{name}")
    return text if text is not None else name


@lru_cache
def _zone(name: str) -> ZoneInfo:
    return ZoneInfo(name)


def format_time(value: datetime | None, zone: str) -> str:
    """`2026-01-02 11:04` in the brand's zone; an em dash when there is no value."""
    if value is None:
        return "—"
    return value.astimezone(_zone(zone)).strftime("%Y-%m-%d %H:%M")


def format_money(amount: str | None, currency: str | None) -> str:
    """`¥1,234.50` from the Decimal string the profile gives; an em dash when there is no amount."""
    if amount is None:
        return "—"
    try:
        number = Decimal(amount)
    except InvalidOperation:
        return str(amount)
    code = (currency or "CNY").upper()
    symbol = CURRENCY_SYMBOLS.get(code, f"{code} ")
    sign = "-" if number < 0 else ""
    return f"{sign}{symbol}{abs(number):,}"


def format_number(value: int | None) -> str:
    return "—" if value is None else f"{value:,}"
