"""The seed's flow in a real Chromium against a real `fedops up` and two real edge clients.

Everything is done through the console, by the labels a person reads (the contract of issue
11): sign in, create an XAI task from the form (after a refused one), provision its server and
see 1/1/1, create an enrolment token and start two clients with the command the page shows,
start the run, watch rounds appear without a reload, see each client's ten Grad-CAM images of
round 1, pause and resume, download the latest model. Every page is screenshotted and checked
with axe-core.
"""

from __future__ import annotations

import re
import shlex
import subprocess
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
import yaml
from playwright.sync_api import Locator, Page, expect

from tests.conftest import ADMIN_TOKEN
from tests.e2e.conftest import PROJECT
from tests.support.browser import assert_accessible, chromium, console, screenshot, sign_in
from tooling.local_federation import LocalFederation, wait_for

pytestmark = pytest.mark.slow
__all__ = ["chromium", "console"]  # the fixtures `browser` and `page`

CLIENTS = ("edge-a", "edge-b")
LIVE = 300_000  # ms: a federation's rounds on two CPU cores


def _visit(page: Page, name: str) -> None:
    """Each page once: a screenshot for a person and axe-core for the machine."""
    screenshot(page, name)
    assert_accessible(page, name)


def _tab(page: Page, label: str) -> None:
    page.get_by_role("navigation", name="Task pages").get_by_role("link", name=label, exact=True).click()


def _fact(page: Page, term: str) -> Locator:
    """The <dd> of a <dt> in the server page's facts."""
    dt = page.locator("dl.facts dt").filter(has_text=re.compile(f"^{re.escape(term)}$"))
    return dt.locator("xpath=following-sibling::dd[1]")


def _fill(page: Page, label: str, value: Any) -> None:
    field = page.get_by_label(label, exact=True)
    kind = field.evaluate("e => e.tagName.toLowerCase() + ':' + (e.type || '')")
    if kind.startswith("select"):
        field.select_option(str(value))
    elif kind == "input:checkbox":
        field.set_checked(bool(value))
    else:
        field.fill(str(value))


def _form_values(rounds: int) -> dict[str, Any]:
    spec: dict[str, Any] = yaml.safe_load((PROJECT / "task.yaml").read_text())
    return {
        "Name": "console-flow",
        "Rounds": rounds,
        "Model class": spec["model"]["target"],
        "Output size": spec["model"]["output_size"],
        "Dataset": spec["dataset"]["name"],
        "Validation split": spec["dataset"]["validation_split"],
        "Strategy": spec["strategy"]["name"],
        "Min available clients": 2,
        "Min train clients": 2,
        "Min evaluate clients": 2,
        "Epochs": spec["training"]["epochs"],
        "Batch size": spec["training"]["batch_size"],
        "Learning rate": spec["training"]["learning_rate"],
        "Enable Grad-CAM explanations": True,
        "Method": spec["xai"]["method"],
        "Target layer": spec["xai"]["target_layer"],
        "Samples per class": spec["xai"]["samples_per_class"],
        "Output directory": spec["xai"]["output_dir"],
        "CPU": spec["resources"]["cpu"],
        "Memory": spec["resources"]["memory"],
        "GPU": spec["resources"]["gpu"],
        "Storage": spec["resources"]["storage"],
    }


def _create_task(page: Page, federation: LocalFederation) -> str:
    page.get_by_role("navigation", name="Main").get_by_role("link", name="New task").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("New task")
    for label, value in _form_values(rounds=0).items():
        _fill(page, label, value)
    # What the API says of rounds 0, asked directly: the page must show this very message.
    refused = httpx.post(
        f"{federation.url}/api/v1/tasks", json={"name": "console-flow", "rounds": 0},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=30,
    ).json()["error"]  # fmt: skip
    message = next(d["message"] for d in refused["details"] if d["field"].endswith("rounds"))

    page.get_by_role("button", name="Create task").click()
    rounds = page.get_by_label("Rounds", exact=True)
    expect(rounds).to_have_attribute("aria-invalid", "true")
    expect(rounds).to_have_accessible_description(re.compile(re.escape(message)))
    _visit(page, "03-task-form-refused")
    assert federation.api.registry.list_tasks().count == 0  # refused means nothing was made

    _fill(page, "Rounds", 2)
    page.get_by_role("button", name="Create task").click()
    # The console opens one of the new task's pages (which one is the console's choice).
    expect(page).to_have_url(re.compile(r"#/tasks/(?!new)[^/]+"))
    task_id: str = re.findall(r"#/tasks/([^/]+)", page.url)[0]
    _tab(page, "Overview")
    expect(page.get_by_role("heading", level=1)).to_have_text("console-flow")
    spec = federation.api.registry.get_task(task_id).spec
    assert (spec.rounds, spec.xai.enabled, spec.xai.target_layer) == (2, True, "conv2")
    _visit(page, "04-task-overview")
    return task_id


def _client_command(shown: str, name: str, federation: LocalFederation, index: int) -> list[str]:
    """The page's command, run as a person would: their project dir, a name, half the data."""
    words = shlex.split(shown)
    assert words[:2] == ["fedops-client", "run"], shown
    assert any(word.startswith(federation.url) for word in words) and "--token" in words, shown
    assert ADMIN_TOKEN not in shown  # an enrolment token, never the admin's
    words[0] = str(federation.bin / "fedops-client")
    words[2] = str(PROJECT)  # the project dir (or a placeholder for it) on "their" machine
    if "--name" in words:
        words[words.index("--name") + 1] = name
    else:
        words += ["--name", name]
    node_config = f'partition-id={index} num-partitions={len(CLIENTS)} partitioning="iid"'
    return [*words, "--node-config", node_config, "--quiet"]


def _start_clients(page: Page, federation: LocalFederation) -> None:
    _tab(page, "Clients")
    expect(page.get_by_role("heading", level=1)).to_have_text("Clients")
    project_field = page.get_by_label("Project directory", exact=True)
    if project_field.count():  # a console may offer to put the project dir into the command
        project_field.fill(str(PROJECT))
    page.get_by_role("button", name="Create enrolment token").click()
    shown = page.get_by_label("Command to start a client").inner_text().strip()
    for index, name in enumerate(CLIENTS):
        log = (federation.logs / f"console-client-{name}.log").open("ab")
        federation.clients.append(  # stopped by PID (its process group) by federation.stop()
            subprocess.Popen(
                _client_command(shown, name, federation, index), env=federation.env,
                stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
            )
        )  # fmt: skip
    table = page.get_by_role("table", name="Clients")
    for name in CLIENTS:
        expect(table.get_by_role("row").filter(has_text=name)).to_have_count(1, timeout=120_000)
    _visit(page, "06-clients")


def _gallery_round_one(page: Page) -> None:
    _tab(page, "XAI gallery")
    expect(page.get_by_role("heading", level=1)).to_have_text("XAI gallery")
    for name in CLIENTS:
        expect(page.get_by_role("heading", level=2, name=name)).to_be_visible()
        grid = page.get_by_role("table", name=f"Grad-CAM of {name}")
        images = grid.get_by_role("img", name=re.compile(rf"^Grad-CAM of class .+, round 1, client {name}$"))
        expect(images).to_have_count(10, timeout=60_000)
        for image in images.all():
            image.scroll_into_view_if_needed()
            expect(image).to_have_js_property("complete", True)
            assert image.evaluate("img => img.naturalWidth") > 0, image.get_attribute("alt")
    _visit(page, "08-gallery")


@pytest.mark.timeout(1200)
def test_the_seed_flow_in_a_browser(page: Page, federation: LocalFederation, tmp_path: Path) -> None:
    page.goto(federation.url + "/")
    expect(page.get_by_label("Admin token")).to_be_visible()
    _visit(page, "01-sign-in")
    sign_in(page, federation.url, ADMIN_TOKEN)
    expect(page.get_by_role("heading", level=1)).to_have_text("Tasks")
    _visit(page, "02-tasks-empty")

    task_id = _create_task(page, federation)

    _tab(page, "Server")
    expect(page.get_by_role("heading", level=1)).to_have_text("Server")
    page.get_by_role("button", name="Provision server").click()
    for term in ("Replicas", "Ready", "Available"):
        expect(_fact(page, term)).to_have_text("1", timeout=120_000)
    _visit(page, "05-server-ready")

    _start_clients(page, federation)

    _tab(page, "Server")
    page.get_by_role("button", name="Start run").click()
    expect(page.get_by_role("button", name="Stop run")).to_be_enabled()
    wait_for(lambda: federation.api.registry.get_task(task_id).status != "ready", 30, "the run to start")
    _tab(page, "Rounds")
    expect(page.get_by_role("heading", level=1)).to_have_text("Rounds")
    page.evaluate("() => { window.fedopsNoReload = true; }")  # gone if the page reloads
    # A round's row starts with its number (a "no rounds yet" row does not count).
    first_cell = page.locator("td:first-child, th:first-child").filter(has_text=re.compile(r"^\s*\d+\s*$"))
    rows = page.get_by_role("table", name="Rounds").locator("tbody tr").filter(has=first_cell)
    assert rows.count() < 2  # a round takes longer than opening the page: the rest arrives live
    expect(rows).to_have_count(1, timeout=LIVE)
    expect(rows).to_have_count(2, timeout=LIVE)
    assert page.evaluate("() => window.fedopsNoReload === true"), "the rounds page reloaded"
    for chart in ("Global accuracy per round", "Global loss per round", "Round duration by phase"):
        expect(page.get_by_role("img", name=chart)).to_be_visible()
    _visit(page, "07-rounds")

    _gallery_round_one(page)

    _tab(page, "Server")
    page.get_by_role("button", name="Pause").click()
    expect(_fact(page, "Ready")).to_have_text("0", timeout=60_000)
    assert federation.api.registry.server_status(task_id).paused
    _visit(page, "09-server-paused")
    page.get_by_role("button", name="Resume").click()
    expect(_fact(page, "Ready")).to_have_text("1", timeout=120_000)
    assert not federation.api.registry.server_status(task_id).paused

    _tab(page, "Models")
    expect(page.get_by_role("heading", level=1)).to_have_text("Models")
    with page.expect_download() as download_info:
        page.get_by_role("link", name="Download latest model").click()
    saved = tmp_path / download_info.value.suggested_filename
    download_info.value.save_as(saved)
    with np.load(saved) as checkpoint:
        assert checkpoint.files and all(checkpoint[key].size > 0 for key in checkpoint.files)
    _visit(page, "10-models")

    _tab(page, "Revisions")
    expect(page.get_by_role("heading", level=1)).to_have_text("Revisions")
    _visit(page, "11-revisions")

    page.get_by_role("navigation", name="Main").get_by_role("link", name="Tasks", exact=True).click()
    row = page.get_by_role("table", name="Tasks").get_by_role("row").filter(has_text="console-flow")
    expect(row.get_by_role("link", name="console-flow")).to_have_attribute("href", f"#/tasks/{task_id}")
    expect(row).to_contain_text("2 / 2")  # its rounds, done of planned
    _visit(page, "12-tasks")
