import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function ClientsPage() {
  return html`<h1>ClientsPage</h1>`;
}
