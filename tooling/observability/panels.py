"""Small builders shared by the three dashboards: panels, queries and the label conventions.

Query conventions (why every expression looks the way it does):

- Series derived from the database (everything with a ``task`` label) are the same on every
  replica and every scrape target (registry and monitoring both export them), so they are
  combined with ``max by (...)``, never summed. The same holds for their rates.
- Series a process counts itself (HTTP, reports ingested) are summed over targets.
- No query names ``pod``, ``namespace`` or ``instance``: a plain ``job`` scrape and the
  Prometheus Operator's labels give the same panels.
- Rates use ``$__rate_interval``. Round and phase histograms change once per round, so their
  quantiles are taken over the cumulative buckets (the task's whole history), not a rate.
"""

from __future__ import annotations

from grafana_foundation_sdk.builders.common import StackingConfig
from grafana_foundation_sdk.builders.dashboard import DatasourceVariable, QueryVariable
from grafana_foundation_sdk.builders.prometheus import Dataquery
from grafana_foundation_sdk.builders.stat import Panel as StatPanel
from grafana_foundation_sdk.builders.timeseries import Panel as TimeseriesPanel
from grafana_foundation_sdk.models.common import (
    BigValueColorMode,
    BigValueGraphMode,
    GraphDrawStyle,
    StackingMode,
)
from grafana_foundation_sdk.models.dashboard import DataSourceRef, VariableRefresh, VariableSort

DATASOURCE = DataSourceRef(type_val="prometheus", uid="${datasource}")
TASK = 'task="$task"'


def datasource_variable() -> DatasourceVariable:
    return DatasourceVariable("datasource").label("Data source").type("prometheus")


def query_variable(name: str, label: str, query: str, *, multi: bool = False) -> QueryVariable:
    variable = (
        QueryVariable(name)
        .label(label)
        .datasource(DATASOURCE)
        .query(query)
        .refresh(VariableRefresh.ON_TIME_RANGE_CHANGED)
        .sort(VariableSort.ALPHABETICAL_ASC)
    )
    return variable.multi(True).include_all(True) if multi else variable


def query(expr: str, legend: str, ref_id: str) -> Dataquery:
    return Dataquery().expr(expr).legend_format(legend).ref_id(ref_id)


def _targets(queries: list[tuple[str, str]]) -> list[Dataquery]:
    return [query(expr, legend, chr(ord("A") + n)) for n, (expr, legend) in enumerate(queries)]


def timeseries(
    title: str,
    description: str,
    queries: list[tuple[str, str]],
    *,
    unit: str = "short",
    width: int = 12,
    stacked_bars: bool = False,
    min_zero: bool = True,
) -> TimeseriesPanel:
    """A time series panel; ``queries`` are (PromQL, legend) pairs."""
    panel = (
        TimeseriesPanel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(8)
        .span(width)
        .targets(_targets(queries))  # type: ignore[arg-type]
    )
    if min_zero:
        panel = panel.min(0)
    if stacked_bars:
        panel = (
            panel.draw_style(GraphDrawStyle.BARS)
            .fill_opacity(80)
            .stacking(StackingConfig().mode(StackingMode.NORMAL))
        )
    return panel


def stat(
    title: str, description: str, queries: list[tuple[str, str]], *, unit: str = "short", width: int = 4
) -> StatPanel:
    """A single-value panel showing the latest value of each series."""
    return (
        StatPanel()
        .title(title)
        .description(description)
        .datasource(DATASOURCE)
        .unit(unit)
        .height(4)
        .span(width)
        .graph_mode(BigValueGraphMode.AREA)
        .color_mode(BigValueColorMode.VALUE)
        .targets(_targets(queries))  # type: ignore[arg-type]
    )


def per_task(metric: str, by: str = "task") -> str:
    """A database-derived series of the selected task (one value whatever the targets)."""
    return f"max by ({by}) ({metric}{{{TASK}}})"


def task_rate(counter: str) -> str:
    """Per-second rate of a database-derived counter of the selected task."""
    return f"max by (task) (rate({counter}{{{TASK}}}[$__rate_interval]))"


def histogram_mean(histogram: str, by: str) -> str:
    """Mean observation of a database-derived histogram over the task's whole history."""
    return f"{per_task(histogram + '_sum', by)} / {per_task(histogram + '_count', by)}"


def histogram_quantile(quantile: float, histogram: str, by: str = "") -> str:
    """A quantile over the cumulative buckets of a database-derived histogram of the task."""
    labels = f"{by}, le" if by else "le"
    return f"histogram_quantile({quantile}, max by ({labels}) ({histogram}_bucket{{{TASK}}}))"
