// A task's FL server: provision it, change its resources, pause/resume it, start/stop a run,
// delete it; its status, pods and log, live.
import { html, useState, useEffect, useRef } from "../lib/html.js";
import { del, get, patch, post, put } from "../lib/api.js";
import { taskPath, taskRoute } from "../lib/paths.js";
import { usePoll } from "../lib/hooks.js";
import { Badge, ConfirmButton, ErrorNotice, Field, Loading } from "../lib/ui.js";

const RESOURCE_FIELDS = [
  ["cpu", "CPU", "Cores, e.g. 1 or 500m."],
  ["memory", "Memory", "e.g. 2Gi or 512Mi."],
  ["gpu", "GPU", "Whole GPUs."],
  ["storage", "Storage", "Size of the server's volume, e.g. 1Gi."],
];
// A run starts from these task states (registry/servers.py start_run); it stops from "running".
const STARTABLE = ["ready", "stopped", "finished", "failed"];
const LOG_TAIL = 200;

export function ServerPage({ id }) {
  const base = taskPath(id);
  const task = usePoll(() => get(base), [id]);
  const server = usePoll(() => get(`${base}/server`), [id]);
  // The API answers 409 server_not_provisioned when there is no server: that is a state, not an error.
  const missing = server.error && server.error.code === "server_not_provisioned";
  const status = missing ? null : server.data;
  const [resources, setResources] = useState(null);
  const [busy, setBusy] = useState(false);
  const [actionError, setActionError] = useState(null);
  const [done, setDone] = useState("");

  // The form starts from the spec's resources, once: polling must not overwrite what is typed.
  useEffect(() => {
    if (task.data && !resources) setResources(textOf(task.data.spec.resources));
  }, [task.data]);

  if (!task.data || !resources || (server.loading && !server.error)) {
    const error = task.error || (missing ? null : server.error);
    return html`<h1>Server</h1>${error ? html`<${ErrorNotice} error=${error} />` : html`<${Loading} what="the server" />`}`;
  }

  /** Run one action; its error stays on the page until the next action. */
  const act = async (label, action) => {
    setBusy(true);
    setActionError(null);
    setDone("");
    try {
      await action();
      setDone(label);
    } catch (failure) {
      setActionError(failure);
    } finally {
      setBusy(false);
      task.reload();
      server.reload();
    }
  };
  // POST /server takes no body: the server gets the spec's resources. Changed fields are
  // therefore saved first as a new revision of the spec (PUT), then the server is provisioned.
  const provision = () => act("Server provisioned.", async () => {
    const spec = task.data.spec;
    const wanted = { ...spec.resources, ...parsed(resources) };
    if (JSON.stringify(textOf(wanted)) !== JSON.stringify(textOf(spec.resources))) {
      await put(base, { ...spec, resources: wanted });
    }
    await post(`${base}/server`);
  });
  // PATCH (ScaleRequest) changes cpu, memory and gpu; a volume keeps its size.
  const apply = () => act("Resources applied.", () => {
    const { cpu, memory, gpu } = parsed(resources);
    return patch(`${base}/server`, { cpu, memory, gpu });
  });
  const running = task.data.status === "running";
  const fieldErrors = fieldsOf(actionError);

  return html`
    <h1>Server</h1>
    <p aria-live="polite">Task <a href=${"#" + taskRoute(id)}>${task.data.name}</a>: <${Badge} value=${task.data.status} />
      ${task.data.status_reason ? html` <span class="reason">${task.data.status_reason}</span>` : null}</p>
    ${!missing && server.error ? html`<${ErrorNotice} error=${server.error} />` : null}
    <${ErrorNotice} error=${actionError} />
    <p class="done" role="status">${done}</p>
    ${missing ? html`<p class="notice">No server yet. Check its resources and provision it.</p>` : null}

    <h2>Resources</h2>
    <form class="resources" onSubmit=${(e) => { e.preventDefault(); status ? apply() : provision(); }} novalidate>
      <div class="grid-2">
        ${RESOURCE_FIELDS.map(([key, label, hint]) => {
          const fixed = status && key === "storage";
          return html`<${Field} id=${"server-" + key} label=${label} error=${fieldErrors[key]}
            hint=${fixed ? "Fixed while the volume exists; delete the server to change it." : hint}>
            ${(props) => html`<input ...${props} type=${key === "gpu" ? "number" : "text"} min=${key === "gpu" ? 0 : undefined}
              value=${resources[key]} readOnly=${fixed} autocomplete="off" spellcheck="false"
              onInput=${(e) => { const value = e.target.value; setResources((previous) => ({ ...previous, [key]: value })); }} />`}
          <//>`;
        })}
      </div>
      <div class="actions">
        ${status
          ? html`<button type="submit" class="primary" disabled=${busy}>Apply resources</button>`
          : html`<button type="submit" class="primary" disabled=${busy}>Provision server</button>`}
      </div>
    </form>
    ${status ? html`
      <h2>Controls</h2>
      <div class="actions">
        <button type="button" disabled=${busy || status.paused} onClick=${() => act("Server paused.", () => post(`${base}/server/pause`))}>Pause</button>
        <button type="button" disabled=${busy || !status.paused} onClick=${() => act("Server resumed.", () => post(`${base}/server/resume`))}>Resume</button>
        <button type="button" disabled=${busy || running || !STARTABLE.includes(task.data.status)}
          onClick=${() => act("Run started.", () => post(`${base}/server/run`))}>Start run</button>
        <button type="button" disabled=${busy || !running} onClick=${() => act("Run stopped.", () => del(`${base}/server/run`))}>Stop run</button>
        <${ConfirmButton} label="Delete server" question="Delete the server and its volume?"
          onConfirm=${() => act("Server deleted.", () => del(`${base}/server`))} />
      </div>
      <${ServerStatus} status=${status} />
      <${ServerLog} base=${base} />` : null}`;
}

function ServerStatus({ status }) {
  return html`
    <h2>Status</h2>
    <dl class="facts" aria-live="polite">
      <dt>Replicas</dt><dd>${status.replicas}</dd>
      <dt>Ready</dt><dd>${status.ready_replicas}</dd>
      <dt>Available</dt><dd>${status.available_replicas}</dd>
      <dt>Paused</dt><dd>${status.paused ? "yes" : "no"}</dd>
      <dt>Volume</dt><dd>${status.volume_phase}</dd>
      <dt>Reason</dt><dd>${status.reason || "–"}</dd>
      <dt>Fleet address</dt><dd>${status.fleet_address ? html`<code>${status.fleet_address}</code>` : "not yet known"}</dd>
      <dt>Provisioner</dt><dd>${status.provisioner}</dd>
    </dl>
    <table class="pods">
      <caption>Pods</caption>
      <thead><tr><th scope="col">Name</th><th scope="col">Phase</th><th scope="col">Ready</th><th scope="col">Reason</th></tr></thead>
      <tbody>
        ${status.pods.length === 0
          ? html`<tr><td colspan="4">No pods: the ${status.provisioner} provisioner ${status.provisioner === "local" ? "runs a process" : "has none running"}.</td></tr>`
          : status.pods.map((pod) => html`<tr key=${pod.name}>
              <th scope="row">${pod.name}</th><td>${pod.phase}</td><td>${pod.ready ? "yes" : "no"}</td><td>${pod.reason || "–"}</td>
            </tr>`)}
      </tbody>
    </table>`;
}

/** The server's last lines, every 2 s; it follows the end unless the reader scrolled up. */
function ServerLog({ base }) {
  const log = usePoll(() => get(`${base}/server/logs`, { tail: LOG_TAIL }), [base]);
  const box = useRef(null);
  const following = useRef(true);
  // Colour codes (Flower logs in colour) would show as "[93m": the text is kept, not the codes.
  const lines = log.data ? log.data.lines.map((line) => line.replace(/\x1b\[[0-9;]*m/g, "")) : [];
  useEffect(() => {
    if (box.current && following.current) box.current.scrollTop = box.current.scrollHeight;
  }, [lines.join("\n")]);
  const scrolled = () => {
    const el = box.current;
    following.current = el.scrollTop + el.clientHeight >= el.scrollHeight - 8;
  };
  return html`
    <h2>Server log</h2>
    <${ErrorNotice} error=${log.error} />
    <pre class="log" aria-label="Server log" tabindex="0" ref=${box} onScroll=${scrolled}>${
      log.data ? (lines.length ? lines.join("\n") : "(no output yet)") : "Loading the log…"}</pre>`;
}

/** Resources as the form's strings. */
function textOf(resources) {
  return { cpu: String(resources.cpu), memory: String(resources.memory), gpu: String(resources.gpu), storage: String(resources.storage) };
}

/** The form's strings for the API: a whole number of GPUs as a number, the rest as typed. */
function parsed(values) {
  const gpu = /^\s*\d+\s*$/.test(values.gpu) ? Number(values.gpu) : values.gpu;
  return { cpu: values.cpu.trim(), memory: values.memory.trim(), gpu, storage: values.storage.trim() };
}

/** A refusal's field messages by resource key ("resources.cpu" from PUT, "cpu" from PATCH). */
function fieldsOf(error) {
  const out = {};
  for (const [path, message] of Object.entries((error && error.fields) || {})) {
    const key = path.split(".").pop();
    if (RESOURCE_FIELDS.some(([name]) => name === key)) out[key] = message;
  }
  return out;
}
