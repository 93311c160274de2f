import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function TaskForm() {
  return html`<h1>TaskForm</h1>`;
}
