// The task form: create a task, or save a new revision of one (#/tasks/new, #/tasks/<id>/edit).
// Every TaskSpec field has an input; the API is the one validator: a refused spec comes back
// as field messages, shown next to their fields and as a focused summary at the top.
import { html, useState, useEffect, useRef } from "../lib/html.js";
import { get, post, put } from "../lib/api.js";
import { taskPath, taskRoute } from "../lib/paths.js";
import { navigate } from "../lib/hooks.js";
import { ErrorNotice, Field, Loading } from "../lib/ui.js";
import { DEFAULT_SPEC, FIELDS, fieldId, formToSpec, placeErrors, specToForm } from "../lib/spec_form.js";

const SECTION_LABELS = {
  clients: "Clients", strategy: "Strategy", "strategy.params": "Strategy parameters", model: "Model",
  dataset: "Dataset", training: "Training", xai: "Explanations (XAI)", resources: "Server resources",
};

export function TaskForm({ id }) {
  const editing = Boolean(id);
  const [form, setForm] = useState(editing ? null : specToForm(DEFAULT_SPEC));
  const [task, setTask] = useState(null);
  const [loadError, setLoadError] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const summary = useRef(null);

  useEffect(() => {
    if (!editing) return;
    get(taskPath(id))
      .then((loaded) => { setTask(loaded); setForm(specToForm(loaded.spec)); })
      .catch(setLoadError);
  }, [id]);
  // The summary takes the focus so that a keyboard or screen reader user learns at once
  // why nothing happened, then reaches each field from its list.
  useEffect(() => { if (error && summary.current) summary.current.focus(); }, [error]);

  if (loadError) return html`<h1>Edit task</h1><${ErrorNotice} error=${loadError} />`;
  if (!form) return html`<h1>Edit task</h1><${Loading} what="the task" />`;

  const setValue = (path, value) => setForm((previous) => ({ ...previous, values: { ...previous.values, [path]: value } }));
  // Updaters, not values: two edits in one tick must not undo each other.
  const setParams = (change) => setForm((previous) => ({ ...previous, params: change(previous.params) }));
  const placed = placeErrors(error);

  const submit = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const spec = formToSpec(form);
      if (editing) {
        await put(taskPath(id), spec);
        navigate(taskRoute(id));
      } else {
        const created = await post("api/v1/tasks", spec);
        navigate(taskRoute(created.id, "/server"));
      }
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };

  // An imported spec replaces the form; on edit the task keeps its name (it cannot change).
  const imported = (spec) => {
    const next = specToForm(spec);
    if (editing) next.values.name = form.values.name;
    setForm(next);
    setError(null);
  };

  const field = (path) => html`<${SpecField} path=${path} value=${form.values[path]} error=${placed.fields[path]}
    readOnly=${editing && path === "name"} onChange=${setValue} />`;
  const sectionError = (section) => placed.sections[section]
    ? html`<p class="field-error section-error">${placed.sections[section]}</p>` : null;

  return html`
    <h1>${editing ? `Edit task ${task.name}` : "New task"}</h1>
    ${error ? html`<div class="form-summary" ref=${summary} tabindex="-1">
      <${ErrorNotice} error=${error} />
      <${ProblemList} placed=${placed} />
    </div>` : null}
    <${ImportConfig} name=${form.values.name} onSpec=${imported} />
    <h2>Spec</h2>
    <form class="task-form" onSubmit=${submit} novalidate>
      <fieldset><legend>General</legend>
        ${field("name")}${field("description")}${field("rounds")}
      </fieldset>
      <div class="grid-2">
        <fieldset><legend>Model</legend>${field("model.target")}${field("model.output_size")}${sectionError("model")}</fieldset>
        <fieldset><legend>Dataset</legend>${field("dataset.name")}${field("dataset.validation_split")}${sectionError("dataset")}</fieldset>
      </div>
      <fieldset><legend>Strategy</legend>
        ${field("strategy.name")}${sectionError("strategy")}
        <${StrategyParams} params=${form.params} onChange=${setParams} error=${placed.sections["strategy.params"]} />
      </fieldset>
      <fieldset><legend>Clients</legend>
        ${sectionError("clients")}
        <div class="grid-2">
          ${field("clients.min_available")}${field("clients.min_train")}${field("clients.min_evaluate")}
          ${field("clients.fraction_train")}${field("clients.fraction_evaluate")}
        </div>
      </fieldset>
      <fieldset><legend>Training</legend>
        <div class="grid-2">${field("training.epochs")}${field("training.batch_size")}${field("training.learning_rate")}${field("training.seed")}</div>
        ${sectionError("training")}
      </fieldset>
      <fieldset><legend>Explanations (XAI)</legend>
        ${field("xai.enabled")}
        <div class="grid-2">${field("xai.method")}${field("xai.target_layer")}${field("xai.samples_per_class")}${field("xai.output_dir")}</div>
        <p class="hint">Explanations are computed on the clients: raw data never leaves them.</p>
        ${sectionError("xai")}
      </fieldset>
      <fieldset><legend>Server resources</legend>
        <div class="grid-2">${field("resources.cpu")}${field("resources.memory")}${field("resources.gpu")}${field("resources.storage")}</div>
        ${sectionError("resources")}
      </fieldset>
      <div class="actions">
        <button type="submit" class="primary" disabled=${busy}>${editing ? "Save revision" : "Create task"}</button>
        <a href=${editing ? "#" + taskRoute(id) : "#/tasks"}>Cancel</a>
      </div>
    </form>`;
}

/** Every problem of a refusal, by the label of its field, for the summary at the top. */
function ProblemList({ placed }) {
  const items = [
    ...Object.entries(placed.fields).map(([path, message]) => [FIELDS[path].label, message]),
    ...Object.entries(placed.sections).map(([section, message]) => [SECTION_LABELS[section] || section, message]),
    ...placed.other,
  ];
  if (!items.length) return null;
  return html`<ul class="problems">${items.map(([label, message]) => html`<li><strong>${label}</strong>: ${message}</li>`)}</ul>`;
}

/** One spec field, its input chosen by the field's kind (lib/spec_form.js FIELDS). */
function SpecField({ path, value, error, readOnly, onChange }) {
  const spec = FIELDS[path];
  const hint = readOnly ? "A task cannot be renamed; create a new task instead." : spec.hint;
  return html`<${Field} id=${fieldId(path)} label=${spec.label} error=${error} hint=${hint}>
    ${(props) => {
      const changed = (event) => onChange(path, event.target.value);
      if (spec.kind === "checkbox") {
        return html`<input ...${props} type="checkbox" class="check" checked=${value} onChange=${(e) => onChange(path, e.target.checked)} />`;
      }
      if (spec.kind === "select") {
        return html`<select ...${props} value=${value} onChange=${changed}>
          ${spec.options.map((option) => html`<option value=${option}>${option}</option>`)}
        </select>`;
      }
      if (spec.kind === "textarea") return html`<textarea ...${props} rows="3" value=${value} onInput=${changed} />`;
      if (spec.kind === "int" || spec.kind === "float") {
        return html`<input ...${props} type="number" step=${spec.kind === "int" ? "1" : "any"} min=${spec.min} max=${spec.max}
          value=${value} onInput=${changed} />`;
      }
      return html`<input ...${props} type="text" value=${value} readOnly=${readOnly} onInput=${changed}
        autocomplete="off" spellcheck="false" />`;
    }}
  <//>`;
}

/** Keyword arguments of the strategy's constructor, as key/value rows. */
function StrategyParams({ params, onChange, error }) {
  const update = (index, change) => onChange((rows) => rows.map((row, i) => (i === index ? { ...row, ...change } : row)));
  return html`<div class="params" role="group" aria-labelledby="params-label" aria-describedby=${error ? "params-error" : undefined}>
    <p id="params-label" class="group-label">Strategy parameters</p>
    <p class="hint">Values that look like numbers or true/false are sent as such. The clients section sets the fractions and minimums.</p>
    ${params.map((row, index) => html`<div class="param-row" key=${index}>
      <${Field} id=${"param-key-" + index} label=${`Parameter ${index + 1} name`}>
        ${(props) => html`<input ...${props} type="text" value=${row.key} onInput=${(e) => update(index, { key: e.target.value })} autocomplete="off" spellcheck="false" />`}
      <//>
      <${Field} id=${"param-value-" + index} label=${`Parameter ${index + 1} value`}>
        ${(props) => html`<input ...${props} type="text" value=${row.value} onInput=${(e) => update(index, { value: e.target.value })} autocomplete="off" spellcheck="false" />`}
      <//>
      <button type="button" onClick=${() => onChange((rows) => rows.filter((_, i) => i !== index))}
        aria-label=${`Remove parameter ${index + 1}${row.key ? " (" + row.key + ")" : ""}`}>Remove</button>
    </div>`)}
    <button type="button" onClick=${() => onChange((rows) => [...rows, { key: "", value: "" }])}>Add parameter</button>
    ${error ? html`<p id="params-error" class="field-error">${error}</p>` : null}
  </div>`;
}

/** A FedOps config.yaml, pasted or loaded from a file, converted by the API into a spec. */
function ImportConfig({ name, onSpec }) {
  const [text, setText] = useState("");
  const [notes, setNotes] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);

  const load = async (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) setText(await file.text());
  };
  const convert = async () => {
    setBusy(true);
    setError(null);
    setNotes(null);
    try {
      const body = { config: text };
      if (name && name.trim()) body.name = name.trim();
      const answer = await post("api/v1/conversions/fedops-config", body);
      onSpec(answer.spec);
      setNotes(answer.notes || []);
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const details = error ? Object.entries(error.fields || {}) : [];
  return html`<section class="import" aria-labelledby="import-heading">
    <h2 id="import-heading">Import a FedOps config</h2>
    <p class="hint">The form is filled from the file; nothing is created until you submit it. A file without
      a task_id takes the form's Name.</p>
    <${Field} id="import-config" label="FedOps config.yaml">
      ${(props) => html`<textarea ...${props} rows="6" class="code" value=${text} onInput=${(e) => setText(e.target.value)} spellcheck="false" />`}
    <//>
    <${Field} id="import-file" label="Load a file">
      ${(props) => html`<input ...${props} type="file" accept=".yaml,.yml,text/yaml,application/yaml" onChange=${load} />`}
    <//>
    <div class="actions"><button type="button" onClick=${convert} disabled=${busy || !text.trim()}>Import</button></div>
    <${ErrorNotice} error=${error} />
    ${details.length ? html`<ul class="problems">${details.map(([field, message]) => html`<li><code>${field}</code>: ${message}</li>`)}</ul>` : null}
    <div aria-live="polite">${notes ? html`
      <h3>Conversion notes</h3>
      ${notes.length
        ? html`<ul class="notes">${notes.map((note) => html`<li><code>${note.key}</code>: ${note.message}</li>`)}</ul>`
        : html`<p>Everything in the file was converted.</p>`}` : null}
    </div>
  </section>`;
}
