// A task spec (TaskSpec, sdk/src/fedops/spec/task.py) as the values of a form, and back.
// Inputs hold strings; numbers and booleans are parsed only on the way out, and a value that
// does not parse goes to the API as typed, so that the API (the one validator) names the
// problem next to the field instead of this code guessing.

// The enums of the spec (fedops.spec.strategies.StrategyName, fedops.spec.task.XaiMethod).
export const STRATEGIES = [
  "FedAvg", "FedAvgM", "FedProx", "FedAdam", "FedYogi", "FedAdagrad",
  "FedMedian", "FedTrimmedAvg", "Krum", "MultiKrum", "Bulyan", "QFedAvg",
];
export const XAI_METHODS = [
  "gradcam", "gradcam++", "hirescam", "gradcamelementwise", "xgradcam", "layercam",
  "eigencam", "eigengradcam", "scorecam", "ablationcam", "fullgrad",
];

// TaskSpec's defaults, so that a new task starts where the API would start it.
export const DEFAULT_SPEC = {
  name: "",
  description: "",
  model: { target: "models.MNISTClassifier", output_size: 10 },
  dataset: { name: "mnist", validation_split: 0.2 },
  strategy: { name: "FedAvg", params: {} },
  rounds: 3,
  clients: { min_available: 2, min_train: 2, min_evaluate: 2, fraction_train: 1.0, fraction_evaluate: 1.0 },
  training: { epochs: 1, batch_size: 32, learning_rate: 0.01, seed: null },
  xai: {
    enabled: false, method: "gradcam", target_layer: -1, samples_per_class: 1,
    run_location: "client", output_dir: "outputs/xai",
  },
  resources: { cpu: "1", memory: "2Gi", gpu: 0, storage: "1Gi", replicas: 1 },
};

// Every form field: its spec path, its label (the words the browser test relies on) and how
// its value is parsed. `kind`: text | int | float | select | checkbox | textarea | layer.
export const FIELDS = {
  name: { label: "Name", kind: "text", hint: "Lower-case letters, digits and '-' (e.g. mnist-xai); fixed once created." },
  description: { label: "Description", kind: "textarea" },
  rounds: { label: "Rounds", kind: "int", min: 1 },
  "model.target": { label: "Model class", kind: "text", hint: "Dotted path in the client project, e.g. models.MNISTClassifier." },
  "model.output_size": { label: "Output size", kind: "int", min: 1, hint: "Number of classes." },
  "dataset.name": { label: "Dataset", kind: "text" },
  "dataset.validation_split": { label: "Validation split", kind: "float", min: 0, max: 1 },
  "strategy.name": { label: "Strategy", kind: "select", options: STRATEGIES },
  "clients.min_available": { label: "Min available clients", kind: "int", min: 1 },
  "clients.min_train": { label: "Min train clients", kind: "int", min: 1 },
  "clients.min_evaluate": { label: "Min evaluate clients", kind: "int", min: 0 },
  "clients.fraction_train": { label: "Fraction train", kind: "float", min: 0, max: 1 },
  "clients.fraction_evaluate": { label: "Fraction evaluate", kind: "float", min: 0, max: 1 },
  "training.epochs": { label: "Epochs", kind: "int", min: 1 },
  "training.batch_size": { label: "Batch size", kind: "int", min: 1 },
  "training.learning_rate": { label: "Learning rate", kind: "float", min: 0 },
  "training.seed": { label: "Seed", kind: "int", min: 0, optional: true, hint: "Empty: a different seed each run." },
  "xai.enabled": { label: "Enable Grad-CAM explanations", kind: "checkbox" },
  "xai.method": { label: "Method", kind: "select", options: XAI_METHODS },
  "xai.target_layer": { label: "Target layer", kind: "layer", hint: "A layer attribute (e.g. conv2) or an index among conv layers (e.g. -1)." },
  "xai.samples_per_class": { label: "Samples per class", kind: "int", min: 1 },
  "xai.output_dir": { label: "Output directory", kind: "text" },
  "resources.cpu": { label: "CPU", kind: "text", hint: "Cores, e.g. 1 or 500m." },
  "resources.memory": { label: "Memory", kind: "text", hint: "e.g. 2Gi or 512Mi." },
  "resources.gpu": { label: "GPU", kind: "int", min: 0 },
  "resources.storage": { label: "Storage", kind: "text", hint: "The server's volume, e.g. 1Gi." },
};

// Paths the API may name that are a section rather than one field (a cross-field rule such as
// min_train <= min_available, or the strategy's params): shown once on the section.
export const SECTIONS = ["clients", "strategy.params", "strategy", "model", "dataset", "training", "xai", "resources"];

/** Form id of a spec path: "clients.min_train" -> "f-clients-min_train". */
export const fieldId = (path) => "f-" + path.replace(/\./g, "-");

function read(spec, path) {
  return path.split(".").reduce((node, key) => (node == null ? undefined : node[key]), spec);
}

/** The form's values ({path: string|boolean}) and strategy params rows for a spec. */
export function specToForm(spec) {
  const merged = mergeDefaults(spec || {});
  const values = {};
  for (const [path, field] of Object.entries(FIELDS)) {
    const value = read(merged, path);
    values[path] = field.kind === "checkbox" ? Boolean(value) : value == null ? "" : String(value);
  }
  const params = Object.entries(merged.strategy.params || {}).map(([key, value]) => ({ key, value: String(value) }));
  // Kept as they are: no field edits them (run_location has one possible value; replicas is
  // the server page's pause/resume).
  const kept = { run_location: merged.xai.run_location, replicas: merged.resources.replicas };
  return { values, params, kept };
}

function mergeDefaults(spec) {
  const merged = { ...DEFAULT_SPEC, ...spec };
  for (const [key, value] of Object.entries(DEFAULT_SPEC)) {
    if (value && typeof value === "object") merged[key] = { ...value, ...(spec[key] || {}) };
  }
  return merged;
}

/** "3" -> 3, "true" -> true, "0.5" -> 0.5, anything else stays a string (a param's value). */
export function parseLoose(text) {
  const trimmed = String(text).trim();
  if (trimmed === "true") return true;
  if (trimmed === "false") return false;
  if (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(trimmed)) return Number(trimmed);
  return text;
}

function parseField(field, value) {
  if (field.kind === "checkbox") return Boolean(value);
  if (field.kind === "int" || field.kind === "float") {
    if (field.optional && String(value).trim() === "") return null;
    const parsed = parseLoose(value);
    return typeof parsed === "number" ? parsed : value; // the API says what is wrong with it
  }
  if (field.kind === "layer") {
    const parsed = parseLoose(value);
    return typeof parsed === "number" && Number.isInteger(parsed) ? parsed : String(value).trim();
  }
  return value;
}

/** The spec the form describes, ready for POST/PUT api/v1/tasks. */
export function formToSpec({ values, params, kept }) {
  const spec = JSON.parse(JSON.stringify(DEFAULT_SPEC));
  for (const [path, field] of Object.entries(FIELDS)) {
    const keys = path.split(".");
    const last = keys.pop();
    const node = keys.reduce((parent, key) => parent[key], spec);
    node[last] = parseField(field, values[path]);
  }
  spec.strategy.params = {};
  for (const { key, value } of params) {
    if (key.trim() !== "") spec.strategy.params[key.trim()] = parseLoose(value);
  }
  spec.xai.run_location = kept.run_location;
  spec.resources.replicas = kept.replicas;
  return spec;
}

/**
 * Sort an API refusal's field paths into {fields: {path: msg}, sections: {section: msg},
 * other: [[path, msg]]}. The API names fields as the spec does ("rounds", "clients.min_train");
 * a "spec." or "body." prefix and pydantic's union suffixes ("xai.target_layer.int") are
 * tolerated, so a change of either side does not lose a message.
 */
export function placeErrors(error) {
  const placed = { fields: {}, sections: {}, other: [] };
  if (!error) return placed;
  const entries = Object.entries(error.fields || {});
  // Conflicts on the name come without details; their message starts with "name:".
  if (!entries.length && /^task_name_/.test(error.code || "")) entries.push(["name", error.message.replace(/^name:\s*/, "")]);
  for (const [raw, message] of entries) {
    const path = raw.replace(/^(body\.|spec\.)+/, "");
    const field = Object.keys(FIELDS).filter((p) => path === p || path.startsWith(p + ".")).sort((a, b) => b.length - a.length)[0];
    const section = SECTIONS.find((s) => path === s || path.startsWith(s + "."));
    if (field) placed.fields[field] = joinMessage(placed.fields[field], message);
    else if (section) placed.sections[section] = joinMessage(placed.sections[section], message);
    else placed.other.push([raw, message]);
  }
  return placed;
}

const joinMessage = (previous, message) => (previous ? previous + "; " + message : message);
