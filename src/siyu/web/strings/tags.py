"""Console strings of the tag pages: the taxonomy (categories, kinds, exclusive groups) and tag members."""

from __future__ import annotations

ZH: dict[str, str] = {
    "tags_page_title": "标签",
    "tags_page_lead": "标签组决定分类（来源、行为、价值…）和打标方式；互斥组里每位客户至多有一个标签。",
    "tag_groups_none": "还没有标签组。",
    "tags_in_group_none": "这个组还没有标签。",
    "tag_exclusive": "互斥",
    "tag_rule": "规则",
    "rule_version": "规则版本",
    "created_label": "创建时间",
    "col_tag": "标签",
    "col_members": "人数",
    "category_source": "来源",
    "category_behavior": "行为",
    "category_value": "价值",
    "category_interest": "兴趣",
    "category_lifecycle": "生命周期",
    "category_custom": "自定义",
    "kind_static": "手动/导入",
    "kind_rule": "规则计算",
    "kind_predictive": "模型预测",
}


EN: dict[str, str] = {
    "tags_page_title": "Tags",
    "tags_page_lead": (
        "A tag group sets the category (source, behaviour, value…) and how tags are applied; "
        "in an exclusive group a customer carries at most one tag."
    ),
    "tag_groups_none": "No tag groups yet.",
    "tags_in_group_none": "No tags in this group yet.",
    "tag_exclusive": "exclusive",
    "tag_rule": "Rule",
    "rule_version": "Rule version",
    "created_label": "Created",
    "col_tag": "Tag",
    "col_members": "Members",
    "category_source": "source",
    "category_behavior": "behaviour",
    "category_value": "value",
    "category_interest": "interest",
    "category_lifecycle": "lifecycle",
    "category_custom": "custom",
    "kind_static": "manual / imported",
    "kind_rule": "rule",
    "kind_predictive": "predictive",
}
