// How numbers, times and sizes read on every page.

export function seconds(value) {
  if (value === null || value === undefined) return "–";
  if (value < 1) return `${Math.round(value * 1000)} ms`;
  if (value < 120) return `${value.toFixed(value < 10 ? 2 : 1)} s`;
  return `${Math.floor(value / 60)} min ${Math.round(value % 60)} s`;
}

export function percent(value, digits = 1) {
  if (value === null || value === undefined) return "–";
  return `${(value * 100).toFixed(digits)}%`;
}

export function number(value, digits = 3) {
  if (value === null || value === undefined) return "–";
  return Number(value).toFixed(digits);
}

export function bytes(value) {
  if (value === null || value === undefined) return "–";
  const units = ["B", "KiB", "MiB", "GiB"];
  let size = value;
  let unit = 0;
  while (size >= 1024 && unit < units.length - 1) {
    size /= 1024;
    unit += 1;
  }
  return `${size.toFixed(unit ? 1 : 0)} ${units[unit]}`;
}

export function when(iso) {
  if (!iso) return "never";
  const date = new Date(iso);
  return date.toLocaleString(undefined, { dateStyle: "medium", timeStyle: "medium" });
}

/** "12 s ago", for heartbeats and other recent events. */
export function ago(iso, now = Date.now()) {
  if (!iso) return "never";
  const elapsed = Math.max(0, (now - new Date(iso).getTime()) / 1000);
  if (elapsed < 60) return `${Math.round(elapsed)} s ago`;
  if (elapsed < 3600) return `${Math.round(elapsed / 60)} min ago`;
  return `${Math.round(elapsed / 3600)} h ago`;
}
