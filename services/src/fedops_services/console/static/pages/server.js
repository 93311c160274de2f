import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function ServerPage() {
  return html`<h1>ServerPage</h1>`;
}
