"""The metric catalog: well-formed names, and the README's metric table is its output."""

from __future__ import annotations

import re
from pathlib import Path

from fedops_services.metrics.catalog import CATALOG, catalog_markdown

README = Path(__file__).resolve().parents[2] / "README.md"
BEGIN, END = "<!-- metrics:begin -->", "<!-- metrics:end -->"


def test_names_follow_prometheus_conventions() -> None:
    names = [entry.name for entry in CATALOG]

    assert len(names) == len(set(names))
    for entry in CATALOG:
        assert re.fullmatch(r"[a-z_][a-z0-9_]*", entry.name), entry.name
        assert entry.name.endswith("_total") == (entry.type == "counter"), entry.name
        assert not entry.name.endswith(("_count", "_sum", "_bucket")), entry.name
        assert entry.per_client == ("client" in entry.labels), entry.name


def test_the_table_has_a_row_per_family() -> None:
    rows = catalog_markdown().splitlines()[2:]

    assert [row.split("|")[1].strip(" `") for row in rows] == [entry.name for entry in CATALOG]


def test_the_readme_holds_the_generated_metric_table() -> None:
    text = README.read_text(encoding="utf-8")
    assert BEGIN in text and END in text, f"README.md needs the metric table between {BEGIN} and {END}"

    between = text.split(BEGIN, 1)[1].split(END, 1)[0]

    assert between.strip() == catalog_markdown().strip(), (
        "README.md's metric table differs from the catalog: paste catalog_markdown()'s output "
        "between the markers (python -c 'from fedops_services.metrics.catalog import catalog_markdown; "
        "print(catalog_markdown())')"
    )
