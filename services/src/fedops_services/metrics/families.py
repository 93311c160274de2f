"""Metric families built from the catalog (name, help and labels come from there only),
and histograms built from counts the database already bucketed."""

from __future__ import annotations

from collections.abc import Sequence

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.samples import Sample
from prometheus_client.utils import floatToGoString

from fedops_services.metrics.catalog import family
from fedops_services.store.metrics import Histogram

__all__ = ["FAITHFULNESS_BOUNDS", "SECONDS_BOUNDS", "add_histogram", "counter", "gauge", "histogram"]

# Rounds and their phases take from a fraction of a second (a tiny model, aggregation) to an
# hour (a slow client on a large model): 100 ms to 1 h, about 2.5x apart.
SECONDS_BOUNDS: tuple[float, ...] = (
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1800.0, 3600.0,
)  # fmt: skip
# Faithfulness is "confidence kept" (fedops.xai.confidence_kept): the share of the class's
# softmax probability the map's regions keep on their own, in [0, 1]; good maps are close to
# 1, so the buckets are finer there. Scores of older clients (a raw logit change, often
# -7 to -27) land in the 0.0 bucket or above 1.0 (+Inf), never in between.
FAITHFULNESS_BOUNDS: tuple[float, ...] = (
    0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99, 1.0,
)  # fmt: skip


def gauge(name: str) -> GaugeMetricFamily:
    entry = family(name)
    assert entry.type == "gauge", name
    return GaugeMetricFamily(entry.name, entry.help, labels=list(entry.labels))


def counter(name: str) -> CounterMetricFamily:
    entry = family(name)
    assert entry.type == "counter" and entry.name.endswith("_total"), name
    # prometheus_client appends _total itself.
    return CounterMetricFamily(entry.name.removesuffix("_total"), entry.help, labels=list(entry.labels))


def histogram(name: str) -> HistogramMetricFamily:
    entry = family(name)
    assert entry.type == "histogram", name
    return HistogramMetricFamily(entry.name, entry.help, labels=list(entry.labels))


def add_histogram(
    target: HistogramMetricFamily, labels: Sequence[str], bounds: Sequence[float], counts: Histogram | None
) -> None:
    """One labelled histogram from cumulative counts per bound (all zero when ``counts`` is None)."""
    cumulative = counts.cumulative if counts is not None else (0,) * len(bounds)
    buckets = [(_bound(bound), float(n)) for bound, n in zip(bounds, cumulative, strict=True)]
    count = counts.count if counts is not None else 0
    buckets.append(("+Inf", float(count)))
    total = counts.total if counts is not None else 0.0
    target.add_metric(list(labels), buckets, sum_value=total)
    if bounds[0] < 0:
        # prometheus_client leaves out _count and _sum when a bucket is negative (OpenMetrics
        # wants a monotonic _sum); the text format has both, and the count is monotonic. The
        # sum of scores that may be negative can fall: divide it by the count, never rate() it.
        series = dict(zip(target._labelnames, labels, strict=True))
        target.samples.append(Sample(target.name + "_count", series, float(count)))
        target.samples.append(Sample(target.name + "_sum", series, total))


def _bound(bound: float) -> str:
    """A bucket's ``le`` as Prometheus' Go clients write it (``1.0``, ``+Inf``)."""
    text: str = floatToGoString(bound)  # type: ignore[no-untyped-call]
    return text
