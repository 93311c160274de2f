import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function ModelsPage() {
  return html`<h1>ModelsPage</h1>`;
}
