// The global model's versions, newest first, live, with a download of each uploaded checkpoint.
// The API lists versions oldest first; the page reads from the end so the newest are shown
// first without fetching the whole list.
import { html, useState } from "../lib/html.js";
import { get } from "../lib/api.js";
import { checkpointPath, taskPath } from "../lib/paths.js";
import { usePoll } from "../lib/hooks.js";
import { ErrorNotice, Loading, Pager } from "../lib/ui.js";
import { when, bytes } from "../lib/format.js";

const PAGE = 20;
const RECENT = 50; // the latest downloadable version is looked for among this many newest ones

const checkpointUrl = checkpointPath;
const shortSha = (m) => (m.metadata && typeof m.metadata.sha256 === "string" ? m.metadata.sha256.slice(0, 12) : null);

async function loadVersions(id, offset) {
  const path = taskPath(id, "/models");
  const { count } = await get(path, { limit: 1 });
  const recent = count ? (await get(path, { limit: RECENT, offset: Math.max(0, count - RECENT) })).data : [];
  // The page in newest-first terms: `offset` versions back from the newest.
  const end = count - offset;
  const start = Math.max(0, end - PAGE);
  const page = start >= count - recent.length
    ? recent.slice(start - (count - recent.length), end - (count - recent.length))
    : end > 0 ? (await get(path, { limit: end - start, offset: start })).data : [];
  const downloadable = [...recent].reverse().find((m) => m.checkpoint_available);
  return { count, rows: [...page].reverse(), downloadable, newest: recent[recent.length - 1] };
}

export function ModelsPage({ id }) {
  const [offset, setOffset] = useState(0);
  const versions = usePoll(() => loadVersions(id, offset), [id, offset]);
  if (versions.loading && !versions.data) return html`<h1>Models</h1><${Loading} what="the model versions" />`;
  const { count = 0, rows = [], downloadable, newest } = versions.data || {};
  return html`<h1>Models</h1>
    <${ErrorNotice} error=${versions.error} />
    <p aria-live="polite">${count ? `${count} version${count === 1 ? "" : "s"}; the newest is version ${newest.version} (round ${newest.round}).`
      : "No model version yet: the server records one after each round."}</p>
    ${downloadable ? html`<p class="actions">
        <a class="button primary" href=${checkpointUrl(id, downloadable.version)} download>Download latest model</a>
        <span>version ${downloadable.version}, round ${downloadable.round}${downloadable.checkpoint_size_bytes ? `, ${bytes(downloadable.checkpoint_size_bytes)}` : ""}${
          newest && newest.version !== downloadable.version ? ` (version ${newest.version} has no checkpoint uploaded yet)` : ""}</span>
      </p>`
      : count ? html`<p>No checkpoint has been uploaded for the newest versions yet.</p>` : null}
    ${count > 0 && html`<table>
      <caption>Model versions</caption>
      <thead><tr>
        <th scope="col" class="num">Version</th><th scope="col" class="num">Round</th><th scope="col">Created</th>
        <th scope="col">SHA-256</th><th scope="col">Checkpoint</th>
      </tr></thead>
      <tbody>${rows.map((m) => html`<tr key=${m.version}>
        <th scope="row" class="num">${m.version}</th>
        <td class="num">${m.round}</td>
        <td>${when(m.created_at)}</td>
        <td>${shortSha(m) ? html`<code title=${m.metadata.sha256}>${shortSha(m)}</code>` : "–"}</td>
        <td>${m.checkpoint_available
          ? html`<a href=${checkpointUrl(id, m.version)} download>Download</a>${m.checkpoint_size_bytes ? ` (${bytes(m.checkpoint_size_bytes)})` : ""}`
          : "not uploaded"}</td>
      </tr>`)}</tbody>
    </table>
    <${Pager} offset=${offset} limit=${PAGE} count=${count} onChange=${setOffset} label="Model version pages" />`}`;
}
