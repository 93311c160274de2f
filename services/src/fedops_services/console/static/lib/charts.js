// Small SVG charts, written for this console: a line chart, vertical stacked bars and
// horizontal stacked bars. No library: the console has no build step and needs only these.
//
// Accessibility: every chart is an <svg role="img" aria-label=...>, every mark has a <title>
// (read on hover and by some screen readers), and every chart comes with a table holding the
// same numbers (a collapsed <details>), because a picture alone is not enough for everyone.
// The CSP forbids style="...": sizes and colours are SVG presentation attributes (allowed).
import { html } from "./html.js";

// Mark colours, each at least 3:1 against white (WCAG 1.4.11), and told apart by lightness too.
export const COLOURS = ["#1d4ed8", "#b45309", "#047857", "#7c3aed", "#be123c", "#0e7490", "#4b5563"];
const INK = "#374151"; // axis text: 10:1 on white
const GRID = "#e5e7eb";

const WIDTH = 560; // viewBox units; the SVG scales to its box, text with it
const PAD = { top: 12, right: 16, bottom: 34, left: 56 };

const plain = (value) => (value === null || value === undefined ? "–" : String(value));

/** About `count` round numbers covering [min, max] (1, 2 or 5 times a power of ten apart). */
export function ticks(min, max, count = 5) {
  if (!(max > min)) max = min + 1;
  const raw = (max - min) / count;
  const power = Math.pow(10, Math.floor(Math.log10(raw)));
  const step = [1, 2, 5, 10].map((m) => m * power).find((s) => s >= raw) || raw;
  // From the step at or below min to the one at or above max, so every value is inside.
  const first = Math.floor(min / step + 1e-9);
  const last = Math.ceil(max / step - 1e-9);
  const out = [];
  for (let i = first; i <= last; i += 1) out.push(Number((i * step).toPrecision(12)));
  return out;
}

const linear = (d0, d1, r0, r1) => (v) => (d1 === d0 ? (r0 + r1) / 2 : r0 + ((v - d0) / (d1 - d0)) * (r1 - r0));

/** Which of `n` category labels to print so that they do not overlap (about `room` fit). */
const every = (n, room) => Math.max(1, Math.ceil(n / room));

function Legend({ items }) {
  return html`<ul class="chart-legend">
    ${items.map(([name, colour]) => html`<li>
      <svg width="14" height="14" aria-hidden="true" focusable="false"><rect width="14" height="14" rx="2" fill=${colour} /></svg>
      ${name}</li>`)}
  </ul>`;
}

/** The chart's numbers as a table: `columns` [{name, format}], `rows` [[label, ...values]]. */
function DataTable({ caption, head, columns, rows }) {
  return html`<details class="chart-data">
    <summary>Numbers of “${caption}”</summary>
    <table>
      <caption>${caption} (numbers)</caption>
      <thead><tr><th scope="col">${head}</th>${columns.map((c) => html`<th scope="col" class="num">${c.name}</th>`)}</tr></thead>
      <tbody>${rows.map(([label, ...values]) => html`<tr>
        <th scope="row">${label}</th>
        ${values.map((v, i) => html`<td class="num">${v === null || v === undefined ? "–" : (columns[i].format || plain)(v)}</td>`)}
      </tr>`)}</tbody>
    </table>
  </details>`;
}

function YAxis({ y, values, format, x0, x1 }) {
  return values.map((v) => html`<g>
    <line x1=${x0} x2=${x1} y1=${y(v)} y2=${y(v)} stroke=${GRID} />
    <text x=${x0 - 6} y=${y(v)} dy="0.32em" text-anchor="end" fill=${INK} font-size="11">${format(v)}</text>
  </g>`);
}

/**
 * Lines over shared x values. `xs`: the x values (rounds); `series`: [{name, values: [y|null]}]
 * aligned with xs. A null breaks the line rather than being drawn as zero.
 */
export function LineChart({ label, xs, series, xName = "Round", format = plain, yMin, yMax, height = 220 }) {
  const all = series.flatMap((s) => s.values).filter((v) => v !== null && v !== undefined);
  if (!xs.length || !all.length) return html`<p class="chart-empty">${label}: no data yet.</p>`;
  const lo = yMin !== undefined ? yMin : Math.min(...all);
  const hi = yMax !== undefined ? yMax : Math.max(...all);
  const yTicks = ticks(lo, hi === lo ? lo + 1 : hi, 4);
  const y = linear(yTicks[0], yTicks[yTicks.length - 1], height - PAD.bottom, PAD.top);
  const x = linear(xs[0], xs[xs.length - 1], PAD.left + 8, WIDTH - PAD.right - 8);
  const labelEvery = every(xs.length, 12);
  const dots = xs.length <= 150; // beyond that, dots hide the line; the table still has each value
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${WIDTH} ${height}`} role="img" aria-label=${label} class="chart-svg">
      <${YAxis} y=${y} values=${yTicks} format=${format} x0=${PAD.left} x1=${WIDTH - PAD.right} />
      ${xs.map((v, i) => (i % labelEvery === 0 || i === xs.length - 1) && html`<text x=${x(v)} y=${height - PAD.bottom + 16} text-anchor="middle" fill=${INK} font-size="11">${v}</text>`)}
      <text x=${(PAD.left + WIDTH) / 2} y=${height - 4} text-anchor="middle" fill=${INK} font-size="11">${xName}</text>
      ${series.map((s, k) => {
        const colour = s.colour || COLOURS[k % COLOURS.length];
        // One path with a "M" after every gap, so missing values show as gaps.
        let d = "";
        let pen = false;
        s.values.forEach((v, i) => {
          if (v === null || v === undefined) { pen = false; return; }
          d += `${pen ? "L" : "M"}${x(xs[i]).toFixed(1)},${y(v).toFixed(1)}`;
          pen = true;
        });
        return html`<g>
          <path d=${d} fill="none" stroke=${colour} stroke-width="2" stroke-dasharray=${k ? "6 3" : undefined} />
          ${dots && s.values.map((v, i) => v !== null && v !== undefined && html`<circle cx=${x(xs[i])} cy=${y(v)} r="3.5" fill=${colour}>
            <title>${s.name}, ${xName.toLowerCase()} ${xs[i]}: ${format(v)}</title></circle>`)}
        </g>`;
      })}
    </svg>
    ${series.length > 1 && html`<${Legend} items=${series.map((s, k) => [s.name, s.colour || COLOURS[k % COLOURS.length]])} />`}
    <${DataTable} caption=${label} head=${xName} columns=${series.map((s) => ({ name: s.name, format }))}
      rows=${xs.map((v, i) => [v, ...series.map((s) => s.values[i])])} />
  </figure>`;
}

// Stacked segments of one bar; a null part counts as 0 for drawing and reads "–" in titles.
function segments(parts, values) {
  let start = 0;
  return parts.map((part, k) => {
    const v = values[part.key];
    const size = typeof v === "number" && v > 0 ? v : 0;
    const segment = { part, k, start, size, value: v };
    start += size;
    return segment;
  });
}

/**
 * Vertical stacked bars: `bars` [{label, values: {key: number|null}}], `parts` [{key, name}].
 * The stack is the sum of the parts drawn, never a separate total (they need not agree).
 */
export function StackedBars({ label, bars, parts, xName = "Round", format = plain, height = 240 }) {
  const max = Math.max(0, ...bars.map((b) => segments(parts, b.values).reduce((s, g) => s + g.size, 0)));
  if (!bars.length || max <= 0) return html`<p class="chart-empty">${label}: no data yet.</p>`;
  const yTicks = ticks(0, max, 4);
  const y = linear(0, yTicks[yTicks.length - 1], height - PAD.bottom, PAD.top);
  const slot = (WIDTH - PAD.left - PAD.right) / bars.length;
  const barWidth = Math.max(1, Math.min(slot * 0.7, 48)); // a lone bar stays a bar, not a wall
  const labelEvery = every(bars.length, 12);
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${WIDTH} ${height}`} role="img" aria-label=${label} class="chart-svg">
      <${YAxis} y=${y} values=${yTicks} format=${format} x0=${PAD.left} x1=${WIDTH - PAD.right} />
      ${bars.map((bar, i) => {
        const left = PAD.left + i * slot + (slot - barWidth) / 2;
        return html`<g>
          ${segments(parts, bar.values).map((g) => g.size > 0 && html`<rect x=${left} width=${barWidth}
              y=${y(g.start + g.size)} height=${Math.max(0.5, y(g.start) - y(g.start + g.size))}
              fill=${COLOURS[g.k % COLOURS.length]} stroke="#ffffff" stroke-width=${barWidth > 6 ? 1 : 0}>
            <title>${xName} ${bar.label}, ${g.part.name}: ${format(g.value)}</title></rect>`)}
          ${(i % labelEvery === 0 || i === bars.length - 1) && html`<text x=${left + barWidth / 2} y=${height - PAD.bottom + 16} text-anchor="middle" fill=${INK} font-size="11">${bar.label}</text>`}
        </g>`;
      })}
      <text x=${(PAD.left + WIDTH) / 2} y=${height - 4} text-anchor="middle" fill=${INK} font-size="11">${xName}</text>
    </svg>
    <${Legend} items=${parts.map((p, k) => [p.name, COLOURS[k % COLOURS.length]])} />
    <${DataTable} caption=${label} head=${xName} columns=${parts.map((p) => ({ name: p.name, format }))}
      rows=${bars.map((b) => [b.label, ...parts.map((p) => b.values[p.key])])} />
  </figure>`;
}

/**
 * Horizontal stacked bars, one row per item: `rows` [{label, values, total, note}]. After the
 * bar: `total` when given (a reported total need not equal the parts' sum), else the sum, then
 * `note` (e.g. "straggler") as text, so that it never relies on colour. The caller
 * shows the numbers in its own table (`table` false), or lets this draw one.
 */
export function HorizontalStackedBars({ label, rows, parts, format = plain, table = true, head = "Name" }) {
  const max = Math.max(0, ...rows.map((r) => segments(parts, r.values).reduce((s, g) => s + g.size, 0)));
  if (!rows.length || max <= 0) return html`<p class="chart-empty">${label}: no data yet.</p>`;
  const rowHeight = 24;
  const left = 150;
  const right = 90; // room for the total and the note
  const height = PAD.top + rows.length * rowHeight + 28;
  const xTicks = ticks(0, max, 5);
  const x = linear(0, xTicks[xTicks.length - 1], left, WIDTH - right);
  const bottom = PAD.top + rows.length * rowHeight;
  return html`<figure class="chart">
    <svg viewBox=${`0 0 ${WIDTH} ${height}`} role="img" aria-label=${label} class="chart-svg">
      ${xTicks.map((v) => html`<g>
        <line x1=${x(v)} x2=${x(v)} y1=${PAD.top} y2=${bottom} stroke=${GRID} />
        <text x=${x(v)} y=${bottom + 14} text-anchor="middle" fill=${INK} font-size="11">${format(v)}</text>
      </g>`)}
      ${rows.map((row, i) => {
        const top = PAD.top + i * rowHeight + 4;
        const parts_ = segments(parts, row.values);
        const end = parts_.reduce((s, g) => s + g.size, 0);
        const shown = typeof row.total === "number" ? row.total : end;
        const name = row.label.length > 22 ? row.label.slice(0, 21) + "…" : row.label;
        return html`<g>
          <text x=${left - 6} y=${top + 8} dy="0.32em" text-anchor="end" fill=${INK} font-size="12"><title>${row.label}</title>${name}</text>
          ${parts_.map((g) => g.size > 0 && html`<rect x=${x(g.start)} y=${top} height=${rowHeight - 8}
              width=${Math.max(0.5, x(g.start + g.size) - x(g.start))} fill=${COLOURS[g.k % COLOURS.length]} stroke="#ffffff" stroke-width="1">
            <title>${row.label}, ${g.part.name}: ${format(g.value)}</title></rect>`)}
          <text x=${x(end) + 6} y=${top + 8} dy="0.32em" fill=${INK} font-size="11" font-weight=${row.note ? 700 : 400}>${format(shown)}${row.note ? " " + row.note : ""}</text>
        </g>`;
      })}
    </svg>
    <${Legend} items=${parts.map((p, k) => [p.name, COLOURS[k % COLOURS.length]])} />
    ${table && html`<${DataTable} caption=${label} head=${head} columns=${parts.map((p) => ({ name: p.name, format }))}
      rows=${rows.map((r) => [r.label, ...parts.map((p) => r.values[p.key])])} />`}
  </figure>`;
}
