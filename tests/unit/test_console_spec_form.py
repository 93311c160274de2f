"""The console's task form against TaskSpec, run in Node (the modules are plain ES modules).

The form lists the spec's fields, enums and defaults in JavaScript (static/lib/spec_form.js):
these tests fail when the spec gains, loses or changes one and the form does not follow. They
also pin how a refusal's field paths reach the form and what the revisions diff shows.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any, get_args

import pytest

from fedops.spec import TaskSpec
from fedops.spec.strategies import STRATEGY_NAMES
from fedops.spec.task import XaiMethod
from fedops_services.console import __file__ as console_init

LIB = Path(console_init).parent / "static" / "lib"
# Spec fields the form keeps as they are instead of editing them: a single possible value
# (run_location), the server page's pause/resume (replicas), and key/value rows (params).
NOT_FIELDS = {"xai.run_location", "resources.replicas", "strategy.params"}


def run_node(script: str) -> Any:
    """Run an ES module that imports the console's lib modules; its JSON output."""
    node = shutil.which("node")
    assert node, "node is required (it also runs the dashboards' type check)"
    header = "\n".join(
        f'import * as {name} from "{(LIB / f"{name}.js").as_uri()}";' for name in ("spec_form", "diff")
    )
    result = subprocess.run(
        [node, "--input-type=module", "-"],
        input=header + "\n" + script,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def leaves(document: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and key != "params":
            out.update(leaves(value, path + "."))
        else:
            out[path] = value
    return out


@pytest.fixture(scope="module")
def form() -> Any:
    return run_node(
        """
const spec = {...spec_form.DEFAULT_SPEC, name: "demo"};
console.log(JSON.stringify({
  fields: Object.keys(spec_form.FIELDS),
  defaults: spec_form.DEFAULT_SPEC,
  strategies: spec_form.STRATEGIES,
  methods: spec_form.XAI_METHODS,
  roundtrip: spec_form.formToSpec(spec_form.specToForm(spec)),
}));
"""
    )


def test_every_spec_field_has_a_form_field(form: Any) -> None:
    spec_paths = set(leaves(TaskSpec(name="demo").to_document()))
    assert set(form["fields"]) == spec_paths - NOT_FIELDS


def test_defaults_and_enums_are_the_specs(form: Any) -> None:
    expected = TaskSpec(name="demo").to_document()
    assert form["defaults"] | {"name": "demo"} == expected
    assert tuple(form["strategies"]) == STRATEGY_NAMES
    assert tuple(form["methods"]) == get_args(XaiMethod)


def test_form_round_trip_is_the_same_spec(form: Any) -> None:
    # The form's strings parse back to the spec's types: TaskSpec accepts it unchanged.
    assert TaskSpec.model_validate(form["roundtrip"]).to_document() == form["roundtrip"]
    assert form["roundtrip"] == TaskSpec(name="demo").to_document()


def test_values_are_parsed_from_the_inputs() -> None:
    out = run_node(
        """
const state = spec_form.specToForm({...spec_form.DEFAULT_SPEC, name: "demo"});
Object.assign(state.values, {"rounds": "7", "training.seed": "", "xai.target_layer": "conv2",
  "training.learning_rate": "abc", "resources.gpu": "1"});
state.params = [{key: "proximal_mu", value: "0.1"}, {key: "flag", value: "true"},
  {key: "mode", value: "fast"}, {key: " ", value: "dropped"}];
const layer = spec_form.specToForm({...spec_form.DEFAULT_SPEC, name: "d"});
layer.values["xai.target_layer"] = "-2";
console.log(JSON.stringify({
  spec: spec_form.formToSpec(state), layer: spec_form.formToSpec(layer).xai.target_layer}));
"""
    )
    spec = out["spec"]
    assert spec["rounds"] == 7
    assert spec["training"]["seed"] is None  # empty optional number: unset
    assert spec["xai"]["target_layer"] == "conv2"
    assert out["layer"] == -2
    # A value that does not parse goes as typed, so that the API names the field.
    assert spec["training"]["learning_rate"] == "abc"
    assert spec["resources"]["gpu"] == 1
    assert spec["strategy"]["params"] == {"proximal_mu": 0.1, "flag": True, "mode": "fast"}


def test_refusals_reach_their_fields() -> None:
    # The paths as the API sends them today ("rounds"), with a "spec." prefix, a pydantic
    # union suffix, a section-wide rule and a name conflict without details.
    placed = run_node(
        """
const refusal = {code: "validation_error", message: "", fields: {
  "rounds": "too few", "spec.clients.min_train": "too many", "xai.target_layer.int": "bad layer",
  "clients": "min_train > min_available", "strategy.params": "unknown parameter", "elsewhere": "odd"}};
const conflict = {code: "task_name_taken", message: "name: a task named 'x' exists already", fields: {}};
console.log(JSON.stringify([spec_form.placeErrors(refusal), spec_form.placeErrors(conflict)]));
"""
    )
    refusal, conflict = placed
    assert refusal["fields"] == {
        "rounds": "too few",
        "clients.min_train": "too many",
        "xai.target_layer": "bad layer",
    }
    assert refusal["sections"] == {
        "clients": "min_train > min_available",
        "strategy.params": "unknown parameter",
    }
    assert refusal["other"] == [["elsewhere", "odd"]]
    assert conflict["fields"] == {"name": "a task named 'x' exists already"}


def test_revision_diff_lists_changed_paths_only() -> None:
    changes = run_node(
        """
const before = {rounds: 3, strategy: {name: "FedAvg", params: {}}, training: {seed: null}};
const after = {rounds: 5, strategy: {name: "FedAvg", params: {proximal_mu: 0.1}}, training: {seed: null}};
const rows = diff.diffSpecs(before, after).map(c => [c.path, diff.show(c.before), diff.show(c.after)]);
console.log(JSON.stringify([rows, diff.diffSpecs(after, after)]));
"""
    )
    assert changes[0] == [
        ["rounds", "3", "5"],
        ["strategy.params.proximal_mu", "(absent)", "0.1"],
    ]
    assert changes[1] == []
