// The XAI gallery: each client's Grad-CAM maps as a round × class grid, a few rounds per page,
// a full-size view with a download, and two rounds side by side. A long task has thousands
// of images, so the page asks the API for one client's round at a time (the `round` and
// `client_id` filters), keeps what it got, and asks again for the newest rounds, which can
// still receive images, and now and then for an older round that is missing some classes
// (a client spools its uploads, so late images are normal). The images load lazily, when
// scrolled into view.
import { html, useState, useRef, useEffect } from "../lib/html.js";
import { usePoll, LIVE_INTERVAL_MS } from "../lib/hooks.js";
import { ErrorNotice, Loading, Pager } from "../lib/ui.js";
import { fetchAll } from "../lib/api.js";
import { artifactContentPath, monitoringPath, taskPath } from "../lib/paths.js";

const ROUNDS_PER_PAGE = 5;
const CLIENTS_REFRESH_MS = 10000;
const STILL_CHANGING = 2; // the newest rounds may still get images; older ones are final...
const INCOMPLETE_REFRESH_MS = 10000; // ...unless they lack a class: then they are asked again this often

const contentUrl = (artifact) => artifactContentPath(artifact.id);
const altOf = (a, client) => `Grad-CAM of class ${a.class_label}, round ${a.round}, client ${client}`;
const safe = (text) => String(text).replace(/[^A-Za-z0-9._-]+/g, "_");

function fileName(a, client) {
  const extension = a.content_type === "image/png" ? "png" : "jpg";
  return `gradcam_class_${safe(a.class_label)}_round_${a.round}_${safe(client)}.${extension}`;
}

/** The faithfulness score for a person (the contract's "confidence kept", a share in [0, 1]). */
export function confidenceKept(value) {
  if (value === null || value === undefined) return "Confidence kept: not measured";
  if (value < 0 || value > 1) return `Confidence kept: old scale: ${value}`;
  return `Confidence kept ${Math.round(value * 100)}%`;
}

// Class labels in a natural order: "2" before "10"; names alphabetically.
const byLabel = (a, b) => a.localeCompare(b, undefined, { numeric: true });

/**
 * The task's round numbers, oldest first. Rounds only ever get added, so each poll asks from
 * the last one known onwards instead of for the whole list.
 */
function useRoundNumbers(id) {
  const known = useRef([]);
  return usePoll(async () => {
    const from = Math.max(0, known.current.length - 1);
    const page = await fetchAll(monitoringPath(id, "/rounds"), { offset: from });
    known.current = [...known.current.slice(0, from), ...page.map((r) => r.round)];
    return known.current;
  }, [id]);
}

const labelCount = (rows) => new Set(rows.map((a) => a.class_label)).size;

/**
 * One client's artifacts of one round. What was fetched is trusted only if the round was
 * already final then (at least STILL_CHANGING rounds older than the newest round known at
 * that moment): a round fetched while it was live may have had half its images, and must not
 * keep them forever. A final round with fewer classes than the client has shown elsewhere is
 * asked again every INCOMPLETE_REFRESH_MS.
 */
function makeLoader(id) {
  const cache = new Map(); // key -> {rows, newestAtFetch, fetchedAt}
  const classes = new Map(); // client id -> Set of the class labels seen in any of its rounds
  return async (clientId, round, newest) => {
    const key = `${clientId}\u0000${round}`;
    const seen = classes.get(clientId) || new Set();
    classes.set(clientId, seen);
    const before = cache.get(key);
    if (before && round <= before.newestAtFetch - STILL_CHANGING) {
      const complete = labelCount(before.rows) >= seen.size;
      if (complete || Date.now() - before.fetchedAt < INCOMPLETE_REFRESH_MS) return before.rows;
    }
    const fetchedAt = Date.now();
    const rows = await fetchAll(monitoringPath(id, "/artifacts"), { client_id: clientId, round });
    for (const a of rows) seen.add(a.class_label);
    // Keep the previous array when nothing changed, so that the grid does not re-render.
    const same = before && before.rows.length === rows.length && before.rows.every((a, i) => a.id === rows[i].id);
    cache.set(key, { rows: same ? before.rows : rows, newestAtFetch: newest, fetchedAt });
    return cache.get(key).rows;
  };
}

function Thumb({ artifact, client, onOpen }) {
  return html`<button type="button" class="thumb" onClick=${(e) => onOpen(artifact, e.currentTarget)}>
    <img loading="lazy" src=${contentUrl(artifact)} alt=${altOf(artifact, client)} width="80" height="80" />
  </button>`;
}

/** Rounds × classes; `rounds` [{round, artifacts}], rows in the order given. */
function Grid({ caption, rounds, client, onOpen }) {
  const labels = [...new Set(rounds.flatMap((r) => (r.artifacts || []).map((a) => a.class_label)))].sort(byLabel);
  // The table is there even before the first image, so the section's structure never jumps.
  const head = labels.length ? labels.map((l) => html`<th scope="col">Class ${l}</th>`) : html`<th scope="col">Images</th>`;
  return html`<div class="gallery-scroll"><table class="gallery">
    <caption>${caption}</caption>
    <thead><tr><th scope="col">Round</th>${head}</tr></thead>
    <tbody>${rounds.map(({ round, artifacts }) => {
      if (!labels.length) return html`<tr key=${round}><th scope="row">${round}</th><td>${artifacts ? "none yet" : "…"}</td></tr>`;
      const byClass = new Map((artifacts || []).map((a) => [a.class_label, a])); // the newest image wins
      return html`<tr key=${round}><th scope="row">${round}</th>
        ${labels.map((l) => {
          const a = byClass.get(l);
          return html`<td key=${l}>${a ? html`<${Thumb} key=${a.id} artifact=${a} client=${client} onOpen=${onOpen} />`
                                      : artifacts ? "–" : "…"}</td>`;
        })}</tr>`;
    })}</tbody>
  </table></div>`;
}

const pageSummary = (shown, all) =>
  (shown.length === 1 ? `Round ${shown[0]}` : `Rounds ${shown[0]} to ${shown[shown.length - 1]}, newest first`) +
  ` (${all} round${all === 1 ? "" : "s"} in all).`;

function ClientGallery({ client, numbers, load, onOpen }) {
  const [offset, setOffset] = useState(0); // in rounds, newest first
  const newestFirst = [...numbers].reverse();
  const shown = newestFirst.slice(offset, offset + ROUNDS_PER_PAGE);
  const newest = numbers.length ? numbers[numbers.length - 1] : 0;
  // The first page (the newest rounds) is live; an older page is polled slowly, which costs
  // no request while its rounds are final and complete (the loader answers from its cache).
  const images = usePoll(async () => {
    const loaded = await Promise.all(shown.map((round) => load(client.id, round, newest)));
    return Object.fromEntries(shown.map((round, i) => [round, loaded[i]]));
  }, [client.id, offset, offset === 0 ? numbers.length > 0 : shown.join(",")],
  offset === 0 ? LIVE_INTERVAL_MS : INCOMPLETE_REFRESH_MS);
  const data = images.data || {};
  const headingId = `gallery-${safe(client.id)}`;
  return html`<section aria-labelledby=${headingId}>
    <h2 id=${headingId}>${client.name}</h2>
    <${ErrorNotice} error=${images.error} />
    ${shown.length ? html`<p aria-live="polite">${pageSummary(shown, numbers.length)}</p>` : null}
    <${Grid} caption=${`Grad-CAM of ${client.name}`} client=${client.name} onOpen=${onOpen}
      rounds=${shown.map((round) => ({ round, artifacts: data[round] }))} />
    <${Pager} offset=${offset} limit=${ROUNDS_PER_PAGE} count=${numbers.length} onChange=${setOffset}
      label=${`Rounds of ${client.name}`} />
  </section>`;
}

/** Two rounds of one client side by side, class by class; nothing is shown until both are picked. */
function Compare({ clients, numbers, load, onOpen }) {
  const [clientId, setClientId] = useState("");
  const [left, setLeft] = useState("");
  const [right, setRight] = useState("");
  const client = clients.find((c) => c.id === clientId) || clients[0];
  const ready = client && left !== "" && right !== "";
  const newest = numbers.length ? numbers[numbers.length - 1] : 0;
  const pair = usePoll(async () => {
    if (!ready) return null;
    return Promise.all([load(client.id, Number(left), newest), load(client.id, Number(right), newest)]);
  }, [client && client.id, left, right]);
  const roundSelect = (id, label, value, set) => html`<div class="field">
    <label for=${id}>${label}</label>
    <select id=${id} value=${value} onChange=${(e) => set(e.target.value)}>
      <option value="">Choose a round</option>
      ${[...numbers].reverse().map((r) => html`<option value=${String(r)}>${r}</option>`)}
    </select></div>`;
  return html`<section aria-labelledby="compare-rounds">
    <h2 id="compare-rounds">Compare rounds</h2>
    <div class="compare-pickers">
      <div class="field"><label for="compare-client">Client</label>
        <select id="compare-client" value=${client ? client.id : ""} onChange=${(e) => setClientId(e.target.value)}>
          ${clients.map((c) => html`<option value=${c.id}>${c.name}</option>`)}
        </select></div>
      ${roundSelect("compare-left", "Left round", left, setLeft)}
      ${roundSelect("compare-right", "Right round", right, setRight)}
    </div>
    <${ErrorNotice} error=${pair.error} />
    ${!ready ? html`<p>Pick a left and a right round to see them side by side.</p>`
      : !pair.data ? html`<${Loading} what="the two rounds" />`
      : html`<${CompareTable} client=${client.name} left=${Number(left)} right=${Number(right)} pair=${pair.data} onOpen=${onOpen} />`}
  </section>`;
}

function CompareTable({ client, left, right, pair, onOpen }) {
  const [a, b] = pair.map((artifacts) => new Map(artifacts.map((x) => [x.class_label, x])));
  const labels = [...new Set([...a.keys(), ...b.keys()])].sort(byLabel);
  if (!labels.length) return html`<p>No Grad-CAM images in these rounds.</p>`;
  const cell = (x) => html`<td>${x ? html`<${Thumb} key=${x.id} artifact=${x} client=${client} onOpen=${onOpen} />` : "–"}</td>`;
  return html`<table class="gallery compare">
    <caption>${`Rounds ${left} and ${right} of ${client}`}</caption>
    <thead><tr><th scope="col">Class</th><th scope="col">Round ${left}</th><th scope="col">Round ${right}</th></tr></thead>
    <tbody>${labels.map((l) => html`<tr key=${l}><th scope="row">${l}</th>${cell(a.get(l))}${cell(b.get(l))}</tr>`)}</tbody>
  </table>`;
}

/**
 * The full-size view: a modal <dialog> (Escape closes it, the browser keeps focus inside),
 * and focus goes back to the thumbnail that opened it.
 */
function FullSize({ open, onClose }) {
  const dialog = useRef(null);
  useEffect(() => {
    const node = dialog.current;
    if (open && node && !node.open) node.showModal();
  }, [open]);
  if (!open) return null;
  const { artifact: a, client, opener } = open;
  const close = () => {
    if (dialog.current && dialog.current.open) dialog.current.close();
  };
  const closed = () => {
    onClose();
    if (opener && opener.isConnected) opener.focus();
  };
  return html`<dialog ref=${dialog} class="fullsize" aria-labelledby="fullsize-title" onClose=${closed}>
    <h2 id="fullsize-title">Class ${a.class_label}, round ${a.round}, client ${client}</h2>
    <img src=${contentUrl(a)} alt=${`Full-size map for class ${a.class_label} in round ${a.round} (${client})`} />
    <p><strong>${confidenceKept(a.faithfulness)}</strong>. 100% means the highlighted regions alone keep all
      of the model's confidence in this class; near 0% means the map misses what drives the decision.</p>
    <p>Method ${a.method}, layer <code>${a.layer}</code>.</p>
    <div class="actions">
      <a class="button primary" href=${contentUrl(a)} download=${fileName(a, client)}>Download</a>
      <button type="button" onClick=${close}>Close</button>
    </div>
  </dialog>`;
}

export function GalleryPage({ id }) {
  const numbers = useRoundNumbers(id);
  const clients = usePoll(() => fetchAll(taskPath(id, "/clients")), [id], CLIENTS_REFRESH_MS);
  const loader = useRef(null);
  if (!loader.current) loader.current = makeLoader(id);
  const [open, setOpen] = useState(null);
  const onOpen = (artifact, opener) => {
    const client = (clients.data || []).find((c) => c.id === artifact.client_id);
    setOpen({ artifact, opener, client: client ? client.name : artifact.client_id });
  };
  if ((numbers.loading && !numbers.data) || (clients.loading && !clients.data)) {
    return html`<h1>XAI gallery</h1><${Loading} what="the gallery" />`;
  }
  const list = [...(clients.data || [])].sort((a, b) => a.name.localeCompare(b.name));
  const rounds = numbers.data || [];
  return html`<h1>XAI gallery</h1>
    <${ErrorNotice} error=${numbers.error || clients.error} />
    ${!list.length ? html`<p>No client has enrolled in this task yet.</p>`
      : !rounds.length ? html`<p aria-live="polite">No round has been reported yet; Grad-CAM images appear here after each round.</p>`
      : html`${list.map((c) => html`<${ClientGallery} key=${c.id} client=${c} numbers=${rounds} load=${loader.current} onOpen=${onOpen} />`)}
             <${Compare} clients=${list} numbers=${rounds} load=${loader.current} onOpen=${onOpen} />`}
    <${FullSize} open=${open} onClose=${() => setOpen(null)} />`;
}
