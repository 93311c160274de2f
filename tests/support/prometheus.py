"""A real Prometheus (Debian's 2.42, /usr/bin/prometheus) on a free loopback port.

It scrapes the given targets every second under one job name, optionally evaluating rule
files, with its configuration and storage in a temporary directory; ``stop`` ends it by PID.
Queries go through the HTTP API (``/api/v1/query``, ``/api/v1/label/.../values``), the way
Grafana sends them.

Service discovery syncs on a throttle, so a target shows up in ``/api/v1/targets`` about
5 s after ``/-/ready``: ``wait_until_up`` polls for it instead of sleeping.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import yaml

from fedops.ports import free_port
from tests.support.processes import ManagedProcess, wait_until

__all__ = [
    "PROMETHEUS",
    "PROMTOOL",
    "PrometheusError",
    "RunningPrometheus",
    "check_metrics",
    "running_prometheus",
    "scrape_config",
]

PROMETHEUS = Path("/usr/bin/prometheus")
PROMTOOL = Path("/usr/bin/promtool")
SCRAPE_INTERVAL = "1s"


class PrometheusError(AssertionError):
    """Prometheus answered a query with an error (a bad expression, a bad label name)."""


def _require_binaries() -> None:
    for binary in (PROMETHEUS, PROMTOOL):
        if not binary.is_file():
            raise RuntimeError(f"{binary} not found; run `make system-deps` (Debian's prometheus package)")


def scrape_config(targets: Sequence[str], *, job: str, rule_files: Sequence[Path] = ()) -> dict[str, Any]:
    """A prometheus.yml document: every target (host:port) scraped each second under ``job``."""
    return {
        "global": {"scrape_interval": SCRAPE_INTERVAL, "evaluation_interval": SCRAPE_INTERVAL},
        "rule_files": [str(path) for path in rule_files],
        "scrape_configs": [
            {
                "job_name": job,
                "scrape_interval": SCRAPE_INTERVAL,
                "scrape_timeout": SCRAPE_INTERVAL,
                "metrics_path": "/metrics",
                "static_configs": [{"targets": list(targets)}],
            }
        ],
    }


class RunningPrometheus:
    """One Prometheus process; ``start`` returns once it answers ``/-/ready``."""

    def __init__(
        self, targets: Sequence[str], *, job: str = "fedops", rule_files: Sequence[Path] = ()
    ) -> None:
        _require_binaries()
        self.targets = list(targets)
        self.job = job
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="fedops-prometheus-"))
        self.config_path = self.root / "prometheus.yml"
        self.config_path.write_text(
            yaml.safe_dump(scrape_config(self.targets, job=job, rule_files=rule_files))
        )
        self.process: ManagedProcess | None = None
        self._http = httpx.Client(base_url=self.url, timeout=10)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        check = subprocess.run(
            [str(PROMTOOL), "check", "config", str(self.config_path)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check.returncode != 0:
            raise RuntimeError(f"promtool rejects the configuration:\n{check.stdout}{check.stderr}")
        self.process = ManagedProcess(
            [
                str(PROMETHEUS),
                f"--config.file={self.config_path}",
                f"--storage.tsdb.path={self.root / 'data'}",
                f"--web.listen-address=127.0.0.1:{self.port}",
                "--storage.tsdb.retention.time=1h",
                "--log.level=warn",
            ],
            log_path=self.root / "prometheus.log",
        )
        self.process.wait_http(f"{self.url}/-/ready", timeout=60)

    def stop(self) -> None:
        self._http.close()
        if self.process is not None:
            self.process.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def output(self) -> str:
        return self.process.output() if self.process is not None else ""

    # --- the HTTP API --------------------------------------------------------------------------

    def _get(self, path: str, params: dict[str, str | list[str]] | None = None) -> Any:
        response = self._http.get(path, params=params)
        body = response.json()
        if response.status_code != 200 or body.get("status") != "success":
            raise PrometheusError(f"{path} {params}: {response.status_code} {body.get('error', body)}")
        return body["data"]

    def targets_health(self) -> dict[str, str]:
        """scrape URL -> health ("up", "down", "unknown") of the active targets of our job."""
        active = self._get("/api/v1/targets", {"state": "active"})["activeTargets"]
        return {t["scrapeUrl"]: t["health"] for t in active if t["labels"].get("job") == self.job}

    def wait_until_up(self, *, timeout: float = 60) -> None:
        """Every target has been scraped successfully at least once."""

        def all_up() -> bool:
            health = self.targets_health()
            return len(health) == len(self.targets) and all(h == "up" for h in health.values())

        wait_until(all_up, timeout=timeout, interval=0.25, what=f"targets {self.targets} to be up")

    def query(self, expression: str) -> list[dict[str, Any]]:
        """An instant query's result (vector samples; a scalar or string as one item)."""
        data = self._get("/api/v1/query", {"query": expression})
        if data["resultType"] in ("scalar", "string"):
            return [{"metric": {}, "value": data["result"]}]
        result: list[dict[str, Any]] = data["result"]
        return result

    def query_range(
        self, expression: str, *, start: float, end: float, step: str = "1s"
    ) -> list[dict[str, Any]]:
        """A range query's series (each with its ``values``), as a time-series panel asks."""
        data = self._get(
            "/api/v1/query_range", {"query": expression, "start": str(start), "end": str(end), "step": step}
        )
        result: list[dict[str, Any]] = data["result"]
        return result

    def label_values(self, label: str, *, match: Sequence[str] = ()) -> list[str]:
        """Values of ``label``, among series matching every selector in ``match`` if given."""
        params: dict[str, str | list[str]] = {"match[]": list(match)} if match else {}
        values: list[str] = self._get(f"/api/v1/label/{label}/values", params)
        return values

    def series_names(self) -> set[str]:
        """Every metric name Prometheus has stored."""
        return set(self.label_values("__name__"))

    def wait_for_data(self, expression: str, *, timeout: float = 60) -> list[dict[str, Any]]:
        """Poll until ``expression`` returns at least one sample."""
        found: list[dict[str, Any]] = []

        def has_data() -> bool:
            found[:] = self.query(expression)
            return bool(found)

        wait_until(has_data, timeout=timeout, interval=0.5, what=f"data for {expression}")
        return found

    def metadata(self) -> dict[str, list[dict[str, str]]]:
        """metric name (as in the exposition's TYPE line) -> its type, help and unit."""
        found: dict[str, list[dict[str, str]]] = self._get("/api/v1/metadata")
        return found

    def rule_groups(self) -> list[dict[str, Any]]:
        groups: list[dict[str, Any]] = self._get("/api/v1/rules")["groups"]
        return groups


@contextmanager
def running_prometheus(
    targets: Sequence[str], *, job: str = "fedops", rule_files: Sequence[Path] = ()
) -> Iterator[RunningPrometheus]:
    """A started Prometheus whose targets are all up; stopped (by PID) afterwards."""
    prometheus = RunningPrometheus(targets, job=job, rule_files=rule_files)
    try:
        prometheus.start()
        prometheus.wait_until_up()
        yield prometheus
    finally:
        prometheus.stop()


def check_metrics(exposition: bytes) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on one exposition (exit 0 clean, 3 lint problems, 1 parse error)."""
    _require_binaries()
    return subprocess.run(
        [str(PROMTOOL), "check", "metrics"],
        input=exposition.decode(),
        capture_output=True,
        text=True,
        timeout=60,
    )
