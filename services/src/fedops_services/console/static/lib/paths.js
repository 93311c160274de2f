// Where things are: the API paths of one task (relative to the page, like every API path) and
// the console's own routes (the part after "#"). Ids are always escaped here, nowhere else.

const enc = encodeURIComponent;

/** api/v1/tasks/<id><suffix>, e.g. taskPath(id, "/server/run"). */
export const taskPath = (id, suffix = "") => `api/v1/tasks/${enc(id)}${suffix}`;

/** api/v1/monitoring/tasks/<id><suffix>, e.g. monitoringPath(id, "/rounds"). */
export const monitoringPath = (id, suffix = "") => `api/v1/monitoring/tasks/${enc(id)}${suffix}`;

/** A Grad-CAM image's bytes. */
export const artifactContentPath = (artifactId) => `api/v1/monitoring/artifacts/${enc(artifactId)}/content`;

/** A model version's checkpoint download. */
export const checkpointPath = (id, version) => monitoringPath(id, `/models/${enc(version)}/checkpoint`);

/** The console route of a task's page, e.g. taskRoute(id, "/edit") -> "/tasks/<id>/edit"; links add "#". */
export const taskRoute = (id, suffix = "") => `/tasks/${enc(id)}${suffix}`;
