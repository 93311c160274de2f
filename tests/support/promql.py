"""Metric names in PromQL expressions, against the metric catalog (dashboards and alert tests)."""

from __future__ import annotations

import re

from fedops_services.metrics.catalog import CATALOG

PROMQL_WORDS = {"and", "or", "unless", "by", "without", "on", "ignoring", "group_left", "group_right",
                "offset", "bool", "inf", "nan"}  # fmt: skip


def exported_series() -> set[str]:
    """Series names the catalog's families expose (histograms as _bucket, _sum and _count)."""
    names = set()
    for family in CATALOG:
        suffixes = ("_bucket", "_sum", "_count") if family.type == "histogram" else ("",)
        names |= {family.name + suffix for suffix in suffixes}
    return names


def metric_names(expr: str) -> set[str]:
    """The metric names an expression selects (not functions, labels, keywords or durations)."""
    text = re.sub(r'"[^"]*"', "", expr)  # label values
    text = re.sub(r"\{[^}]*\}", " ", text)  # matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # ranges and subqueries
    text = re.sub(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    names = set()
    for token in re.finditer(r"(?<![A-Za-z0-9_:.])[A-Za-z_:][A-Za-z0-9_:]*", text):
        if not text[token.end() :].lstrip().startswith("(") and token.group() not in PROMQL_WORDS:
            names.add(token.group())  # neither a function nor a keyword
    return names
