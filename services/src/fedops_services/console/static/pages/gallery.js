import { html } from "../lib/html.js";

// Scaffolding: the page is being written (issue 11).
export function GalleryPage() {
  return html`<h1>GalleryPage</h1>`;
}
