"""The real-Prometheus fixture (tests/support/prometheus.py) against a real `fedops up`."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_TOKEN
from tests.support.processes import pid_running
from tests.support.prometheus import PrometheusError, check_metrics, running_prometheus
from tests.support.stack import running_stack
from tooling.local_federation import wait_for

pytestmark = pytest.mark.slow


def test_prometheus_scrapes_the_services_and_answers_queries(tmp_path: Path) -> None:
    with running_stack(tmp_path / "data", env={"FEDOPS_ADMIN_TOKEN": ADMIN_TOKEN}) as stack:
        started = time.time()
        with running_prometheus([stack.url.removeprefix("http://")], job="fedops") as prometheus:
            samples = prometheus.wait_for_data('fedops_tasks{job="fedops"}')
            statuses = prometheus.label_values("status", match=["fedops_tasks"])
            # A range's steps are aligned to its start: the first one after the first scrape has data.
            series = wait_for(
                lambda: prometheus.query_range("fedops_tasks", start=started, end=time.time()) or None,
                30,
                "a range with data",
            )
            with pytest.raises(PrometheusError, match="parse error"):
                prometheus.query("fedops_tasks{")
            pid = prometheus.process.pid if prometheus.process else None
            assert pid_running(pid)
        assert not pid_running(pid)  # stopped by PID on leaving the context
        checked = check_metrics(httpx.get(f"{stack.url}/metrics").content)

    assert {s["metric"]["status"] for s in samples} == set(statuses)
    assert "running" in statuses
    assert series and all(s["values"] for s in series)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert check_metrics(b"# TYPE bad_total gauge\nbad_total 1\n").returncode == 3
