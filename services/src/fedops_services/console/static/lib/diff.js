// Differences between two task specs, as flat paths ("clients.min_train"), for the revisions page.

/** {"a": {"b": 1}, "c": {}} -> {"a.b": 1}: an empty object (no strategy params) has no paths. */
export function flatten(value, prefix = "", out = {}) {
  if (value && typeof value === "object" && !Array.isArray(value)) {
    for (const [key, child] of Object.entries(value)) flatten(child, prefix ? `${prefix}.${key}` : key, out);
  } else if (prefix) {
    out[prefix] = value;
  }
  return out;
}

/** [{path, before, after}] for every path whose value differs, sorted by path. */
export function diffSpecs(before, after) {
  const left = flatten(before || {});
  const right = flatten(after || {});
  const paths = [...new Set([...Object.keys(left), ...Object.keys(right)])].sort();
  return paths
    .filter((path) => JSON.stringify(left[path]) !== JSON.stringify(right[path]))
    .map((path) => ({ path, before: left[path], after: right[path] }));
}

/** A value as the diff table shows it: absent, null and strings distinguishable. */
export function show(value) {
  return value === undefined ? "(absent)" : JSON.stringify(value);
}
