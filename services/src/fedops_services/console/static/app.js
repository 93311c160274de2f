// The console's entry: the session, the layout and the routes. Routing is by the URL's hash
// (#/tasks/abc/rounds), so the document's own path never changes and relative API paths
// keep working under any path prefix.
import { html, render, useState, useEffect } from "./lib/html.js";
import { ApiError, currentSession, onSignedOut, signOut } from "./lib/api.js";
import { useHashPath, navigate } from "./lib/hooks.js";
import { taskRoute } from "./lib/paths.js";
import { ErrorNotice, Loading } from "./lib/ui.js";
import { SignIn } from "./pages/signin.js";
import { TaskList } from "./pages/tasks.js";
import { TaskForm } from "./pages/task_form.js";
import { TaskOverview, TaskRevisions } from "./pages/task.js";
import { ServerPage } from "./pages/server.js";
import { ClientsPage } from "./pages/clients.js";
import { RoundsPage } from "./pages/rounds.js";
import { GalleryPage } from "./pages/gallery.js";
import { ModelsPage } from "./pages/models.js";

// [pattern, component, title]; ":id" captures a task id.
const ROUTES = [
  ["/tasks", TaskList, "Tasks"],
  ["/tasks/new", TaskForm, "New task"],
  ["/tasks/:id", TaskOverview, "Overview"],
  ["/tasks/:id/edit", TaskForm, "Edit"],
  ["/tasks/:id/revisions", TaskRevisions, "Revisions"],
  ["/tasks/:id/server", ServerPage, "Server"],
  ["/tasks/:id/clients", ClientsPage, "Clients"],
  ["/tasks/:id/rounds", RoundsPage, "Rounds"],
  ["/tasks/:id/gallery", GalleryPage, "XAI gallery"],
  ["/tasks/:id/models", ModelsPage, "Models"],
];
// The tabs of one task's pages, in this order.
export const TASK_TABS = [
  ["", "Overview"], ["/server", "Server"], ["/clients", "Clients"], ["/rounds", "Rounds"],
  ["/gallery", "XAI gallery"], ["/models", "Models"], ["/revisions", "Revisions"],
];

// A task id as the server makes them (store/ids.py: a uuid4's hex), or at least one that cannot
// leave its place in an API path: no "." or "..", which the browser would resolve to another
// endpoint (api/v1/tasks/.. is api/v1/), and nothing that needs escaping.
const TASK_ID = /^[A-Za-z0-9_-]+$/;

/** A path segment decoded, or null when it is malformed (#/tasks/%E0) or not a task id. */
function param(segment) {
  let value;
  try {
    value = decodeURIComponent(segment);
  } catch {
    return null; // URIError: the page says "Not found" instead of failing to render
  }
  return TASK_ID.test(value) && value !== "new" ? value : null;
}

function match(path) {
  const parts = path.split("/");
  for (const [pattern, component, title] of ROUTES) {
    const expected = pattern.split("/");
    if (expected.length !== parts.length) continue;
    const params = {};
    const ok = expected.every((part, i) => {
      if (part.startsWith(":")) {
        params[part.slice(1)] = param(parts[i]);
        return params[part.slice(1)] !== null;
      }
      return part === parts[i];
    });
    if (ok) return { component, title, params };
  }
  return null;
}

function TaskTabs({ id, path }) {
  return html`<nav class="tabs" aria-label="Task pages">
    ${TASK_TABS.map(([suffix, label]) => {
      const target = taskRoute(id, suffix);
      return html`<a href=${"#" + target} aria-current=${path === target ? "page" : undefined}>${label}</a>`;
    })}
  </nav>`;
}

function Shell({ session, onSignOut, signOutError }) {
  const path = useHashPath();
  const route = match(path);
  useEffect(() => {
    document.title = route ? `${route.title} · fedops` : "Not found · fedops";
  }, [path]);
  const Page = route && route.component;
  return html`
    <a class="skip" href="#main" onClick=${(e) => { e.preventDefault(); document.getElementById("main").focus(); }}>Skip to content</a>
    <header class="top">
      <a class="brand" href="#/tasks">fedops</a>
      <nav aria-label="Main"><a href="#/tasks" aria-current=${path === "/tasks" ? "page" : undefined}>Tasks</a>
        <a href="#/tasks/new" aria-current=${path === "/tasks/new" ? "page" : undefined}>New task</a></nav>
      <span class="session">Signed in as administrator</span>
      <button type="button" onClick=${onSignOut}>Sign out</button>
    </header>
    <main id="main" tabindex="-1">
      <${ErrorNotice} error=${signOutError} />
      ${route && route.params.id ? html`<${TaskTabs} id=${route.params.id} path=${path} />` : null}
      ${Page ? html`<${Page} key=${path} ...${route.params} path=${path} />`
             : html`<h1>Not found</h1><p>No console page at ${path}. <a href="#/tasks">Go to the tasks.</a></p>`}
    </main>`;
}

function App() {
  const [state, setState] = useState({ checking: true, session: null, error: null });
  const [signOutError, setSignOutError] = useState(null);
  useEffect(() => {
    currentSession()
      .then((session) => setState({ checking: false, session, error: null }))
      .catch((error) => setState({ checking: false, session: null, error }));
    return onSignedOut(() => {
      setSignOutError(null);
      setState({ checking: false, session: null, error: null });
    });
  }, []);
  if (state.checking) return html`<${Loading} what="the session" />`;
  if (state.error) return html`<main id="main"><${ErrorNotice} error=${state.error} /></main>`;
  if (!state.session) {
    return html`<${SignIn} onSignedIn=${(session) => setState({ checking: false, session, error: null })} />`;
  }
  const leave = async () => {
    setSignOutError(null);
    try {
      await signOut();
    } catch (error) {
      // A 401: the session had ended anyway (onSignedOut shows the sign-in). Anything else (no
      // network, a 403) left the cookie live: stay signed in and say why, so it can be retried.
      if (!(error instanceof ApiError && error.status === 401)) {
        setSignOutError(error);
        return;
      }
    }
    setState({ checking: false, session: null, error: null });
    navigate("/tasks");
  };
  return html`<${Shell} session=${state.session} onSignOut=${leave} signOutError=${signOutError} />`;
}

render(html`<${App} />`, document.getElementById("app"));
