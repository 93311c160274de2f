// Small building blocks every page uses, so that errors, fields and statuses look alike.
import { html, useState, useEffect, useRef } from "./html.js";

/** An API error for a person: its message, and its stable code for a bug report. */
export function ErrorNotice({ error }) {
  if (!error) return null;
  return html`<div class="notice error" role="alert">
    <strong>${error.message}</strong>${error.code ? html` <span class="code">(${error.code})</span>` : null}
  </div>`;
}

export function Loading({ what = "" }) {
  return html`<p class="loading" aria-live="polite">Loading${what ? " " + what : ""}…</p>`;
}

/**
 * A labelled form field with the API's message for it underneath (aria-describedby points at
 * it, so a screen reader reads it with the field). `id` doubles as the field's name.
 */
export function Field({ id, label, error, hint, children }) {
  const describedBy = [error ? id + "-error" : null, hint ? id + "-hint" : null].filter(Boolean).join(" ");
  return html`<div class=${"field" + (error ? " invalid" : "")}>
    <label for=${id}>${label}</label>
    ${children({ id, name: id, "aria-invalid": error ? "true" : undefined, "aria-describedby": describedBy || undefined })}
    ${hint ? html`<small id=${id + "-hint"} class="hint">${hint}</small>` : null}
    ${error ? html`<small id=${id + "-error"} class="field-error">${error}</small>` : null}
  </div>`;
}

/** A status as a coloured badge that also reads as text (colour is never the only signal). */
export function Badge({ value }) {
  return html`<span class=${"badge badge-" + String(value).replace(/[^a-z_]/gi, "")}>${value}</span>`;
}

/**
 * A button that asks once more before a destructive action. The button it replaces had the
 * focus: the question's Cancel takes it (the safe choice), and the button gets it back after,
 * so a keyboard user is never dropped at the top of the page.
 */
export function ConfirmButton({ label, question, onConfirm, class: className = "danger" }) {
  const [asking, setAsking] = useState(false);
  const button = useRef(null);
  const cancel = useRef(null);
  const asked = useRef(false);
  useEffect(() => {
    if (asking && cancel.current) cancel.current.focus();
    else if (asked.current && button.current) button.current.focus();
    asked.current = asking;
  }, [asking]);
  if (!asking) return html`<button type="button" class=${className} ref=${button} onClick=${() => setAsking(true)}>${label}</button>`;
  return html`<span class="confirm" role="group" aria-label=${question}>
    <span>${question}</span>
    <button type="button" class=${className} onClick=${() => { setAsking(false); onConfirm(); }}>Yes, ${label.toLowerCase()}</button>
    <button type="button" ref=${cancel} onClick=${() => setAsking(false)}>Cancel</button>
  </span>`;
}

/** Previous/next over an API list ({data, count}) paged by limit/offset. */
export function Pager({ offset, limit, count, onChange, label = "Pages" }) {
  if (count <= limit) return null;
  const page = Math.floor(offset / limit) + 1;
  const pages = Math.ceil(count / limit);
  return html`<nav class="pager" aria-label=${label}>
    <button type="button" disabled=${offset === 0} onClick=${() => onChange(Math.max(0, offset - limit))}>Previous</button>
    <span>Page ${page} of ${pages}</span>
    <button type="button" disabled=${offset + limit >= count} onClick=${() => onChange(offset + limit)}>Next</button>
  </nav>`;
}
