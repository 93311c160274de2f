// Rounds of one task, live: the global model's accuracy and loss, how long each round's phases
// took, a table of every round, and, for one round, where each client's time went (with the
// stragglers named). Everything comes from the monitoring API's reports.
import { html, useState, useMemo } from "../lib/html.js";
import { fetchAll } from "../lib/api.js";
import { monitoringPath, taskPath } from "../lib/paths.js";
import { usePoll } from "../lib/hooks.js";
import { ErrorNotice, Loading, Pager, Badge } from "../lib/ui.js";
import { seconds, percent, number } from "../lib/format.js";
import { LineChart, StackedBars, HorizontalStackedBars } from "../lib/charts.js";

const TABLE_PAGE = 20;
const CLIENTS_REFRESH_MS = 10000; // names change rarely
const SERVER_PHASES = [
  { key: "configure", name: "Configure" }, { key: "wait", name: "Wait for clients" },
  { key: "aggregate", name: "Aggregate" }, { key: "evaluate", name: "Evaluate" },
];
const CLIENT_PHASES = [
  { key: "wait", name: "Wait" }, { key: "load", name: "Load" }, { key: "train", name: "Train" },
  { key: "evaluate", name: "Evaluate" }, { key: "xai", name: "XAI" }, { key: "upload", name: "Upload" },
];
// A straggler takes more than this times the round's median, and at least this much longer.
const STRAGGLER_FACTOR = 1.5;
const STRAGGLER_MIN_SECONDS = 1;

/** {client id: name} of a task's enrolled clients. */
export async function clientNames(id) {
  const clients = await fetchAll(taskPath(id, "/clients"));
  return Object.fromEntries(clients.map((c) => [c.id, c.name]));
}

// A phase's seconds, or the sum of the known phases when the report has no total.
function total(timings, phases) {
  if (!timings) return null;
  if (typeof timings.total === "number") return timings.total;
  const known = phases.map((p) => timings[p.key]).filter((v) => typeof v === "number");
  return known.length ? known.reduce((a, b) => a + b, 0) : null;
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Each client's latest report of the round (a retried round stores a second report). */
export function clientRows(reports, names) {
  const latest = new Map();
  for (const report of reports) latest.set(report.client_id, report); // the API lists oldest first
  const rows = [...latest.values()].map((r) => ({
    id: r.client_id,
    label: names[r.client_id] || r.client_id,
    values: r.timings || {},
    total: total(r.timings, CLIENT_PHASES),
  }));
  const totals = rows.map((r) => r.total).filter((v) => v !== null);
  const middle = totals.length >= 2 ? median(totals) : null;
  for (const row of rows) {
    row.straggler = middle !== null && row.total !== null &&
      row.total > STRAGGLER_FACTOR * middle && row.total - middle >= STRAGGLER_MIN_SECONDS;
    row.note = row.straggler ? "straggler" : "";
  }
  return rows.sort((a, b) => a.label.localeCompare(b.label));
}

function RoundsTable({ rounds }) {
  const [offset, setOffset] = useState(0);
  const newestFirst = useMemo(() => [...rounds].reverse(), [rounds]);
  const page = newestFirst.slice(offset, offset + TABLE_PAGE);
  return html`<table>
      <caption>Rounds</caption>
      <thead><tr>
        <th scope="col" class="num">Round</th><th scope="col" class="num">Accuracy</th><th scope="col" class="num">Loss</th>
        <th scope="col" class="num">Clients</th><th scope="col" class="num">Failures</th><th scope="col" class="num">Duration</th>
        <th scope="col" class="num">Model version</th>
      </tr></thead>
      <tbody>${page.map((r) => {
        const s = r.server;
        return html`<tr key=${r.round}>
          <th scope="row" class="num">${r.round}</th>
          <td class="num">${s ? percent(s.accuracy) : "–"}</td>
          <td class="num">${s ? number(s.loss) : "–"}</td>
          <td class="num">${s ? s.num_clients : `${r.client_reports} reported`}</td>
          <td class="num">${s && s.num_failures !== null ? s.num_failures : "–"}</td>
          <td class="num">${s ? seconds(total(s.timings, SERVER_PHASES)) : "in progress"}</td>
          <td class="num">${s && s.global_model_version !== null ? s.global_model_version : "–"}</td>
        </tr>`;
      })}</tbody>
    </table>
    <${Pager} offset=${offset} limit=${TABLE_PAGE} count=${rounds.length} onChange=${setOffset} label="Rounds table pages" />`;
}

function ClientTime({ id, round, names }) {
  const reports = usePoll(
    () => fetchAll(monitoringPath(id, "/reports"), { kind: "client_round", round }),
    [id, round],
  );
  if (reports.loading && !reports.data) return html`<${Loading} what="the clients' reports" />`;
  const rows = clientRows(reports.data || [], names);
  const caption = `Client time in round ${round}`;
  const stragglers = rows.filter((r) => r.straggler).length;
  return html`<${ErrorNotice} error=${reports.error} />
    <p aria-live="polite">${rows.length} client report${rows.length === 1 ? "" : "s"} in round ${round}${stragglers ? `; ${stragglers} straggler${stragglers === 1 ? "" : "s"} (more than ${STRAGGLER_FACTOR}× the median time)` : ""}.</p>
    <p class="hint">Total is each client's own measure of its round, from receiving the model to sending
      its report: it leaves out the wait before the model arrived and the upload, which runs in the background.</p>
    <${HorizontalStackedBars} label="Where each client's time went" rows=${rows}
      parts=${CLIENT_PHASES} format=${seconds} table=${false} />
    <table>
      <caption>${caption}</caption>
      <thead><tr><th scope="col">Client</th>
        ${CLIENT_PHASES.map((p) => html`<th scope="col" class="num">${p.name}</th>`)}
        <th scope="col" class="num">Total</th><th scope="col">Note</th></tr></thead>
      <tbody>${rows.map((r) => html`<tr key=${r.id} class=${r.straggler ? "highlight" : undefined}>
        <th scope="row">${r.label}</th>
        ${CLIENT_PHASES.map((p) => html`<td class="num">${seconds(r.values[p.key])}</td>`)}
        <td class="num">${seconds(r.total)}</td>
        <td>${r.straggler ? html`<${Badge} value="straggler" />` : ""}</td>
      </tr>`)}</tbody>
    </table>`;
}

export function RoundsPage({ id }) {
  const path = monitoringPath(id, "/rounds");
  const rounds = usePoll(() => fetchAll(path), [id]);
  const names = usePoll(() => clientNames(id), [id], CLIENTS_REFRESH_MS);
  const [picked, setPicked] = useState(null); // null: follow the latest round
  if (rounds.loading && !rounds.data) return html`<h1>Rounds</h1><${Loading} what="the rounds" />`;
  const list = rounds.data || [];
  const xs = list.map((r) => r.round);
  const server = (key) => list.map((r) => (r.server ? r.server[key] : null));
  const latest = list.length ? list[list.length - 1] : null;
  const round = picked !== null && xs.includes(picked) ? picked : latest && latest.round;
  return html`<h1>Rounds</h1>
    <${ErrorNotice} error=${rounds.error} />
    <p aria-live="polite">${list.length ? `${list.length} round${list.length === 1 ? "" : "s"}; latest: round ${latest.round}${
      latest.server ? `, accuracy ${percent(latest.server.accuracy)}, loss ${number(latest.server.loss)}` : " (in progress)"}.`
      : "No round has been reported yet."}</p>
    ${list.length > 0 && html`
      <div class="charts">
        <section aria-labelledby="chart-accuracy"><h2 id="chart-accuracy">Global accuracy per round</h2>
          <${LineChart} label="Global accuracy per round" xs=${xs} format=${(v) => percent(v)}
            series=${[{ name: "Global model (server)", values: server("accuracy") },
                      { name: "Mean client validation", values: list.map((r) => r.mean_client_val_accuracy) }]} /></section>
        <section aria-labelledby="chart-loss"><h2 id="chart-loss">Global loss per round</h2>
          <${LineChart} label="Global loss per round" xs=${xs} format=${(v) => number(v)}
            series=${[{ name: "Global loss", values: server("loss") }]} /></section>
        <section aria-labelledby="chart-duration"><h2 id="chart-duration">Round duration by phase</h2>
          <${StackedBars} label="Round duration by phase" parts=${SERVER_PHASES} format=${seconds}
            bars=${list.filter((r) => r.server).map((r) => ({ label: r.round, values: r.server.timings || {} }))} /></section>
      </div>
      <h2>All rounds</h2>
      <${RoundsTable} rounds=${list} />
      <h2 id="client-time">Where each client's time went</h2>
      <div class="field round-picker">
        <label for="round-picker">Round</label>
        <select id="round-picker" value=${round} onChange=${(e) => {
          const value = Number(e.target.value);
          setPicked(value === latest.round ? null : value); // picking the latest follows new rounds again
        }}>
          ${[...xs].reverse().map((r) => html`<option value=${r}>${r === latest.round ? `${r} (latest)` : r}</option>`)}
        </select>
      </div>
      <${ErrorNotice} error=${names.error} />
      <${ClientTime} id=${id} round=${round} names=${names.data || {}} />`}`;
}
