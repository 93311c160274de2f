import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function TaskList() {
  return html`<h1>TaskList</h1>`;
}
