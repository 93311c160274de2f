// The REST API on this origin. Paths are relative to the page ("api/v1/..."), so the console
// works at "/" and under an Ingress path prefix alike. The session cookie is HttpOnly: this
// code never sees it. The CSRF token lives in this module's memory only (never in storage)
// and goes with every mutating request; after a reload, session() fetches it again.

let csrfToken = null;
const signedOutListeners = new Set();

export class ApiError extends Error {
  constructor(status, body) {
    const error = body && body.error ? body.error : {};
    super(error.message || `the request failed with status ${status}`);
    this.status = status;
    this.code = error.code || "http_" + status;
    // {field path: message} for refused forms, e.g. {"spec.rounds": "must be at least 1"}.
    this.fields = {};
    for (const detail of error.details || []) {
      if (detail.field) this.fields[detail.field] = detail.message;
    }
  }
}

/** Called with no argument whenever the API answers 401: the page goes back to sign-in. */
export function onSignedOut(listener) {
  signedOutListeners.add(listener);
  return () => signedOutListeners.delete(listener);
}

async function parse(response) {
  const type = response.headers.get("content-type") || "";
  if (response.status === 204) return null;
  if (type.includes("application/json")) return response.json();
  return response.text();
}

/** request("GET", "api/v1/tasks", {query: {limit: 10}}); a JSON body goes in `json`. */
export async function request(method, path, { json, query, headers = {}, body } = {}) {
  let url = path;
  if (query) {
    const params = new URLSearchParams();
    for (const [key, value] of Object.entries(query)) {
      if (value !== undefined && value !== null && value !== "") params.set(key, String(value));
    }
    const text = params.toString();
    if (text) url += (url.includes("?") ? "&" : "?") + text;
  }
  const init = { method, headers: { Accept: "application/json", ...headers }, credentials: "same-origin" };
  if (json !== undefined) {
    init.body = JSON.stringify(json);
    init.headers["Content-Type"] = "application/json";
  } else if (body !== undefined) {
    init.body = body;
  }
  if (method !== "GET" && method !== "HEAD" && csrfToken) init.headers["X-CSRF-Token"] = csrfToken;
  const response = await fetch(url, init);
  const data = await parse(response);
  if (response.status === 401) {
    csrfToken = null;
    for (const listener of signedOutListeners) listener();
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
}

export const get = (path, query) => request("GET", path, { query });
export const post = (path, json) => request("POST", path, { json });
export const put = (path, json) => request("PUT", path, { json });
export const patch = (path, json) => request("PATCH", path, { json });
export const del = (path) => request("DELETE", path);

/** Exchange the admin token for a session cookie; the token is not kept anywhere. */
export async function signIn(token) {
  const session = await request("POST", "api/v1/session", { headers: { Authorization: `Bearer ${token}` } });
  csrfToken = session.csrf_token;
  return session;
}

/** The current session (after a reload), or null when there is none. */
export async function currentSession() {
  try {
    const session = await request("GET", "api/v1/session");
    csrfToken = session.csrf_token;
    return session;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return null;
    throw error;
  }
}

/**
 * End the session. Throws when the server did not end it (a network error, a 403): the cookie
 * is then still live, so the CSRF token is kept for the next try. A 401 means there was no
 * session left, which request() already reports to the onSignedOut listeners.
 */
export async function signOut() {
  await request("DELETE", "api/v1/session");
  csrfToken = null;
}

export const API_PAGE_LIMIT = 500; // the API's largest page (`limit`)

/** Every page of a list endpoint ({data, count}) from `query.offset` (default 0) on, in the API's order. */
export async function fetchAll(path, query = {}) {
  const start = query.offset || 0;
  const rows = [];
  for (;;) {
    const page = await get(path, { ...query, limit: API_PAGE_LIMIT, offset: start + rows.length });
    rows.push(...page.data);
    if (!page.data.length || start + rows.length >= page.count) return rows;
  }
}

/** The last `max` rows of a list endpoint (all of them when there are fewer), in the API's order. */
export async function fetchNewest(path, max = API_PAGE_LIMIT, query = {}) {
  const first = await get(path, { ...query, limit: max });
  if (first.count <= max) return first.data;
  return (await get(path, { ...query, limit: max, offset: first.count - max })).data;
}

/** A URL the browser may open or download directly (images, checkpoints): the cookie goes along. */
export function href(path, query) {
  if (!query) return path;
  return path + "?" + new URLSearchParams(query).toString();
}
