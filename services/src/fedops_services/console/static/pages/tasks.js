// The task list: every task with its status and how far its run is, live.
import { html, useState } from "../lib/html.js";
import { get } from "../lib/api.js";
import { taskRoute } from "../lib/paths.js";
import { usePoll } from "../lib/hooks.js";
import { Badge, ErrorNotice, Loading, Pager } from "../lib/ui.js";
import * as format from "../lib/format.js";

const PAGE_SIZE = 50;

/** "2 / 3" rounds; before the API reports progress, the spec's round count alone. */
export function roundsText(task) {
  const progress = task.progress;
  if (progress) return `${progress.rounds_completed} / ${progress.num_rounds}`;
  return `– / ${task.spec.rounds}`;
}

function clientsText(task) {
  const progress = task.progress;
  return progress ? `${progress.online_clients} / ${progress.clients}` : "–";
}

export function TaskList() {
  const [offset, setOffset] = useState(0);
  const tasks = usePoll(() => get("api/v1/tasks", { limit: PAGE_SIZE, offset }), [offset]);
  const page = tasks.data;
  return html`
    <h1>Tasks</h1>
    <div class="actions"><a class="button primary" href="#/tasks/new">New task</a></div>
    <${ErrorNotice} error=${tasks.error} />
    ${page === undefined && !tasks.error ? html`<${Loading} what="the tasks" />` : null}
    ${page && page.count === 0
      ? html`<p class="empty">No tasks yet. <a href="#/tasks/new">Create one</a> from a form or an existing FedOps config.yaml.</p>`
      : null}
    ${page && page.count > 0 ? html`
      <p class="summary" aria-live="polite">${page.count} task${page.count === 1 ? "" : "s"}</p>
      <table class="tasks">
        <caption>Tasks</caption>
        <thead><tr>
          <th scope="col">Name</th><th scope="col">Status</th><th scope="col" class="num">Rounds</th>
          <th scope="col" class="num">Online clients</th><th scope="col">Updated</th>
        </tr></thead>
        <tbody>
          ${page.data.map((task) => html`<tr key=${task.id}>
            <th scope="row"><a href=${"#" + taskRoute(task.id)}>${task.name}</a></th>
            <td><${Badge} value=${task.status} />${task.status_reason ? html` <span class="reason">${task.status_reason}</span>` : null}</td>
            <td class="num">${roundsText(task)}</td>
            <td class="num">${clientsText(task)}</td>
            <td><time datetime=${task.updated_at}>${format.when(task.updated_at)}</time></td>
          </tr>`)}
        </tbody>
      </table>
      <${Pager} offset=${offset} limit=${PAGE_SIZE} count=${page.count} onChange=${setOffset} label="Pages of tasks" />` : null}`;
}
