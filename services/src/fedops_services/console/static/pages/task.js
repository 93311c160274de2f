// One task: its overview (status, progress, spec at a glance, delete) and its spec's revisions.
import { html, useState } from "../lib/html.js";
import { del, fetchNewest, get } from "../lib/api.js";
import { taskPath, taskRoute } from "../lib/paths.js";
import { navigate, usePoll } from "../lib/hooks.js";
import { Badge, ConfirmButton, ErrorNotice, Loading } from "../lib/ui.js";
import { diffSpecs, show } from "../lib/diff.js";
import * as format from "../lib/format.js";

// What the other pages of a task are for, so the overview says where to go next.
const PAGES = [
  ["/edit", "Edit the spec", "saves a new revision"],
  ["/server", "Server", "provision, scale, pause, start and stop runs, read its log"],
  ["/clients", "Clients", "enrol edge machines and see their heartbeats and timings"],
  ["/rounds", "Rounds", "accuracy, loss and where the time went, per round"],
  ["/gallery", "XAI gallery", "Grad-CAM explanations per client, round and class"],
  ["/models", "Models", "global model versions and their checkpoints"],
  ["/revisions", "Revisions", "what changed between two revisions of the spec"],
];

export function TaskOverview({ id }) {
  const task = usePoll(() => get(taskPath(id)), [id]);
  const [deleteError, setDeleteError] = useState(null);
  if (!task.data) {
    return html`<h1>Task</h1>${task.error ? html`<${ErrorNotice} error=${task.error} />` : html`<${Loading} what="the task" />`}`;
  }
  const { name, status, status_reason: reason, spec, progress } = task.data;
  const remove = async () => {
    setDeleteError(null);
    try {
      await del(taskPath(id));
      navigate("/tasks");
    } catch (failure) {
      setDeleteError(failure);
    }
  };
  return html`
    <h1>${name}</h1>
    <${ErrorNotice} error=${task.error} />
    <div class="task-status" aria-live="polite">
      <p><${Badge} value=${status} />${reason ? html` <span class="reason">${reason}</span>` : null}</p>
      <${Progress} progress=${progress} rounds=${spec.rounds} />
    </div>
    ${spec.description ? html`<p class="description">${spec.description}</p>` : null}
    <h2>Spec</h2>
    <${SpecFacts} task=${task.data} />
    <h2>Pages of this task</h2>
    <ul class="task-pages">
      ${PAGES.map(([suffix, label, what]) => html`<li><a href=${"#" + taskRoute(id, suffix)}>${label}</a>: ${what}</li>`)}
    </ul>
    <h2>Delete</h2>
    <p>Deleting a task removes its server, its clients' credentials, its reports and its explanations.</p>
    <${ErrorNotice} error=${deleteError} />
    <${ConfirmButton} label="Delete task" question=${`Delete task ${name} and everything it holds?`} onConfirm=${remove} />`;
}

/** Rounds done out of the spec's, as text and as a progress bar (the text is what counts). */
function Progress({ progress, rounds }) {
  if (!progress) return html`<p>Rounds: – / ${rounds}</p>`;
  const { rounds_completed: done, num_rounds: total } = progress;
  return html`<p class="progress-line">
    <span id="round-progress">Round ${done} of ${total} completed</span>
    <progress max=${total || 1} value=${done} aria-labelledby="round-progress"></progress>
    <span>· ${progress.online_clients} of ${progress.clients} clients online, ${progress.training_clients} training</span>
  </p>`;
}

function SpecFacts({ task }) {
  const { spec } = task;
  const params = Object.entries(spec.strategy.params || {});
  const xai = spec.xai.enabled
    ? `${spec.xai.method} on layer ${spec.xai.target_layer}, ${spec.xai.samples_per_class} per class, into ${spec.xai.output_dir}`
    : "off";
  const { cpu, memory, gpu, storage, replicas } = spec.resources;
  return html`<dl class="facts">
    <dt>Revision</dt><dd>${task.revision}</dd>
    <dt>Model</dt><dd><code>${spec.model.target}</code>, ${spec.model.output_size} classes</dd>
    <dt>Dataset</dt><dd>${spec.dataset.name}, validation split ${spec.dataset.validation_split}</dd>
    <dt>Strategy</dt><dd>${spec.strategy.name}${params.length ? " (" + params.map(([k, v]) => `${k}=${v}`).join(", ") + ")" : ""}</dd>
    <dt>Rounds</dt><dd>${spec.rounds}</dd>
    <dt>Clients</dt><dd>at least ${spec.clients.min_available} available, ${spec.clients.min_train} train
      (fraction ${spec.clients.fraction_train}), ${spec.clients.min_evaluate} evaluate (fraction ${spec.clients.fraction_evaluate})</dd>
    <dt>Training</dt><dd>${spec.training.epochs} epoch(s), batch ${spec.training.batch_size}, learning rate ${spec.training.learning_rate}, seed ${spec.training.seed ?? "random"}</dd>
    <dt>Explanations</dt><dd>${xai}</dd>
    <dt>Server resources</dt><dd>CPU ${cpu}, memory ${memory}, GPU ${gpu}, storage ${storage}, replicas ${replicas}</dd>
    <dt>Created</dt><dd>${format.when(task.created_at)}</dd>
    <dt>Updated</dt><dd>${format.when(task.updated_at)}</dd>
  </dl>`;
}

/** Every revision, oldest first; the newest API_PAGE_LIMIT (500) when there are more. */
const loadRevisions = (id) => fetchNewest(taskPath(id, "/revisions"));

export function TaskRevisions({ id }) {
  const revisions = usePoll(() => loadRevisions(id), [id], 0); // a revision appears on save, not live
  const [chosen, setChosen] = useState({ from: null, to: null });
  const list = revisions.data;
  if (!list) {
    return html`<h1>Revisions</h1>${revisions.error ? html`<${ErrorNotice} error=${revisions.error} />` : html`<${Loading} what="the revisions" />`}`;
  }
  if (!list.length) return html`<h1>Revisions</h1><p>This task has no revisions.</p>`;
  const latest = list[list.length - 1].revision;
  const previous = list.length > 1 ? list[list.length - 2].revision : latest;
  const from = chosen.from ?? previous;
  const to = chosen.to ?? latest;
  const byNumber = (number) => list.find((r) => r.revision === number);
  const changes = diffSpecs(byNumber(from)?.spec, byNumber(to)?.spec);
  const select = (key, label) => html`<div class="field">
    <label for=${"revision-" + key}>${label}</label>
    <select id=${"revision-" + key} value=${String(key === "from" ? from : to)}
      onChange=${(e) => setChosen({ ...chosen, [key]: Number(e.target.value) })}>
      ${list.map((r) => html`<option value=${String(r.revision)}>Revision ${r.revision} · ${format.when(r.created_at)}</option>`)}
    </select>
  </div>`;
  return html`
    <h1>Revisions</h1>
    <p>Every save of the spec (and every change of the server's resources) is a revision. ${list.length} revision${list.length === 1 ? "" : "s"}.${" "}<a href=${"#" + taskRoute(id, "/edit")}>Edit the spec</a></p>
    <div class="actions revision-pick">${select("from", "From revision")}${select("to", "To revision")}</div>
    <p aria-live="polite">Comparing revision ${from} with revision ${to}: ${changes.length} change${changes.length === 1 ? "" : "s"}.</p>
    ${changes.length === 0
      ? html`<p class="empty">No differences.</p>`
      : html`<table class="diff">
        <caption>Changes</caption>
        <thead><tr><th scope="col">Path</th><th scope="col">Before</th><th scope="col">After</th></tr></thead>
        <tbody>${changes.map((change) => html`<tr key=${change.path}>
          <th scope="row"><code>${change.path}</code></th>
          <td class="before"><code>${show(change.before)}</code></td>
          <td class="after"><code>${show(change.after)}</code></td>
        </tr>`)}</tbody>
      </table>`}`;
}
