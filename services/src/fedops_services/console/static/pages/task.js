import { html } from "../lib/html.js";

// Scaffolding: the pages are being written (issue 11).
export function TaskOverview() {
  return html`<h1>Overview</h1>`;
}

export function TaskRevisions() {
  return html`<h1>Revisions</h1>`;
}
