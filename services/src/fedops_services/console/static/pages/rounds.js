import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function RoundsPage() {
  return html`<h1>RoundsPage</h1>`;
}
