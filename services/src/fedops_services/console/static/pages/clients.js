// A task's clients: enrol new ones (a token and the command to run), watch them live, and see
// where each one's time went, round by round.
import { html, useState, useRef, useEffect } from "../lib/html.js";
import { get, post } from "../lib/api.js";
import { monitoringPath, taskPath } from "../lib/paths.js";
import { usePoll } from "../lib/hooks.js";
import { Badge, ErrorNotice, Field, Loading, Pager } from "../lib/ui.js";
import * as format from "../lib/format.js";

const PAGE_SIZE = 100;
const HOUR = 3600;

/**
 * The URL the client's --registry option needs: this console's own base (origin plus any
 * path prefix), since the API is served next to it.
 */
export function apiBase(loc = location) {
  return loc.origin + loc.pathname.replace(/index\.html$/, "").replace(/\/+$/, "");
}

/**
 * One word for a POSIX shell: as it is when it holds nothing the shell would read (so the usual
 * command reads cleanly), else in single quotes, each ' written as '\''.
 */
export function shellQuote(word) {
  const text = String(word);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(text)) return text;
  return "'" + text.replace(/'/g, "'\\''") + "'";
}

/** The one command an edge machine runs (fedops-client run --help names these options). */
export function clientCommand({ project, token, name }, loc = location) {
  const parts = ["fedops-client", "run", project || ".", "--registry", apiBase(loc), "--token", token];
  if (name) parts.push("--name", name);
  return parts.map(shellQuote).join(" ");
}

export function ClientsPage({ id }) {
  const base = taskPath(id);
  const [offset, setOffset] = useState(0);
  const clients = usePoll(() => get(`${base}/clients`, { limit: PAGE_SIZE, offset }), [id, offset]);
  const page = clients.data;
  return html`
    <h1>Clients</h1>
    <${Enrol} id=${id} base=${base} />
    <h2>Enrolled clients</h2>
    <${ErrorNotice} error=${clients.error} />
    ${page === undefined && !clients.error ? html`<${Loading} what="the clients" />` : null}
    ${page && page.count === 0 ? html`<p class="empty">No client has enrolled yet. Create an enrolment token and run the command on an edge machine.</p>` : null}
    ${page && page.count > 0 ? html`
      <p class="summary" aria-live="polite">${page.data.filter((c) => c.online).length} of ${page.count} online</p>
      <table class="clients">
        <caption>Clients</caption>
        <thead><tr>
          <th scope="col">Name</th><th scope="col">Host</th><th scope="col">Status</th><th scope="col">Last heartbeat</th>
          <th scope="col" class="num">Model version</th><th scope="col" class="num">Spool backlog</th>
        </tr></thead>
        <tbody>${page.data.map((client) => html`<tr key=${client.id}>
          <th scope="row">${client.name}</th>
          <td>${client.hostname || "–"}</td>
          <td><${Badge} value=${client.online ? "online" : "offline"} />${client.training ? html` <${Badge} value="training" />` : null}</td>
          <td><time datetime=${client.last_heartbeat_at || ""} title=${format.when(client.last_heartbeat_at)}>${format.ago(client.last_heartbeat_at)}</time></td>
          <td class="num">${client.global_model_version ?? "–"}</td>
          <td class="num">${client.spool_backlog ?? "–"}</td>
        </tr>`)}</tbody>
      </table>
      <${Pager} offset=${offset} limit=${PAGE_SIZE} count=${page.count} onChange=${setOffset} label="Pages of clients" />
      <h2>Round timings</h2>
      ${page.data.map((client) => html`<${Timings} key=${client.id} id=${id} client=${client} />`)}` : null}`;
}

/** Create an enrolment token and show it once, in the command that uses it. */
function Enrol({ id, base }) {
  const [form, setForm] = useState({ hours: "168", maxUses: "", name: "client-1", project: "." });
  const [token, setToken] = useState(null);
  const [error, setError] = useState(null);
  const [busy, setBusy] = useState(false);
  const [copied, setCopied] = useState("");
  const commandBox = useRef(null);
  // The token is shown once: the command takes the focus so that it is read and copied now.
  useEffect(() => { if (token && commandBox.current) commandBox.current.focus(); }, [token]);
  const set = (key) => (event) => { const value = event.target.value; setForm((previous) => ({ ...previous, [key]: value })); };

  const create = async (event) => {
    event.preventDefault();
    setBusy(true);
    setError(null);
    setCopied("");
    try {
      const body = { ttl_seconds: Math.round(Number(form.hours) * HOUR) };
      if (form.maxUses.trim()) body.max_uses = Number(form.maxUses);
      setToken(await post(`${base}/enrollment-tokens`, body));
    } catch (failure) {
      setError(failure);
    } finally {
      setBusy(false);
    }
  };
  const command = token ? clientCommand({ project: form.project.trim(), token: token.token, name: form.name.trim() }) : "";
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(command);
      setCopied("Copied to the clipboard.");
    } catch {
      // No clipboard (plain http, or refused): select the text so Ctrl+C copies it.
      const range = document.createRange();
      range.selectNodeContents(commandBox.current);
      const selection = getSelection();
      selection.removeAllRanges();
      selection.addRange(range);
      setCopied("Selected: press Ctrl+C (or ⌘C) to copy.");
    }
  };
  const fields = (error && error.fields) || {}; // a network failure has none
  const ttlError = fields.ttl_seconds;
  const usesError = fields.max_uses;
  return html`<section aria-labelledby="enrol-heading">
    <h2 id="enrol-heading">Enrol a client</h2>
    <form onSubmit=${create} novalidate>
      <div class="grid-2">
        <${Field} id="token-hours" label="Token valid for (hours)" error=${ttlError} hint="Default 168 (one week).">
          ${(props) => html`<input ...${props} type="number" min="1" step="any" value=${form.hours} onInput=${set("hours")} />`}
        <//>
        <${Field} id="token-uses" label="Max uses" error=${usesError} hint="Empty: any number of clients.">
          ${(props) => html`<input ...${props} type="number" min="1" step="1" value=${form.maxUses} onInput=${set("maxUses")} />`}
        <//>
        <${Field} id="client-name" label="Client name" hint="For the command; every machine needs its own. Empty: the client picks one from its host name.">
          ${(props) => html`<input ...${props} type="text" value=${form.name} onInput=${set("name")} autocomplete="off" spellcheck="false" />`}
        <//>
        <${Field} id="client-project" label="Project directory" hint="The client project on the edge machine.">
          ${(props) => html`<input ...${props} type="text" value=${form.project} onInput=${set("project")} autocomplete="off" spellcheck="false" />`}
        <//>
      </div>
      <div class="actions"><button type="submit" class="primary" disabled=${busy}>Create enrolment token</button></div>
    </form>
    <${ErrorNotice} error=${error} />
    ${token ? html`<div class="notice ok token" role="status">
      <p><strong>Enrolment token created.</strong> It is shown only this once: copy the command now.
        It expires ${format.when(token.expires_at)}${token.max_uses ? `, after ${token.max_uses} use(s)` : ""}.</p>
      <pre aria-label="Command to start a client" tabindex="0" ref=${commandBox}>${command}</pre>
      <div class="actions"><button type="button" onClick=${copy}>Copy</button><span aria-live="polite">${copied}</span></div>
    </div>` : null}
  </section>`;
}

/** One client's round timings, behind a disclosure; polled only while it is open. */
function Timings({ id, client }) {
  const [open, setOpen] = useState(false);
  // Nothing is fetched while closed: a task may have many clients.
  const reports = usePoll(
    () => (!open ? Promise.resolve(null) : get(monitoringPath(id, "/reports"), { kind: "client_round", client_id: client.id, limit: 100 })),
    [id, client.id, open],
    open ? undefined : 0,
  );
  const rows = reports.data ? [...reports.data.data].sort((a, b) => a.round - b.round) : [];
  return html`<details class="timings" onToggle=${(e) => setOpen(e.currentTarget.open)}>
    <summary>Timings of ${client.name}</summary>
    <${ErrorNotice} error=${reports.error} />
    <table>
      <caption>Timings of ${client.name}</caption>
      <thead><tr>
        <th scope="col" class="num">Round</th><th scope="col" class="num">Wait</th><th scope="col" class="num">Load</th>
        <th scope="col" class="num">Train</th><th scope="col" class="num">Evaluate</th><th scope="col" class="num">XAI</th>
        <th scope="col" class="num">Upload</th><th scope="col" class="num">Total</th><th scope="col" class="num">Val accuracy</th>
      </tr></thead>
      <tbody>
        ${open && reports.data && rows.length === 0 ? html`<tr><td colspan="9">No round reported yet.</td></tr>` : null}
        ${rows.map((report) => {
          const t = report.timings || {};
          return html`<tr key=${report.report_id || report.round}>
            <th scope="row" class="num">${report.round}</th>
            <td class="num">${format.seconds(t.wait)}</td><td class="num">${format.seconds(t.load)}</td>
            <td class="num">${format.seconds(t.train)}</td><td class="num">${format.seconds(t.evaluate)}</td>
            <td class="num">${format.seconds(t.xai)}</td><td class="num">${format.seconds(t.upload)}</td>
            <td class="num">${format.seconds(t.total)}</td><td class="num">${format.percent(report.val_accuracy)}</td>
          </tr>`;
        })}
      </tbody>
    </table>
  </details>`;
}
