"""The ASGI application: registry and monitoring APIs on one origin."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import APIRouter, FastAPI
from fastapi.responses import RedirectResponse

import fedops_services
from fedops_services.api.errors import error_response, install_error_handlers, internal_error
from fedops_services.api.openapi import install_links
from fedops_services.api.request_ids import RequestIdMiddleware
from fedops_services.api.routes import clients, conversions, health, monitoring, servers, session, tasks
from fedops_services.config import Settings
from fedops_services.console import StaticAssets, console_router
from fedops_services.container import Services, build_services
from fedops_services.metrics import instrument_http
from fedops_services.periodic import Periodic

__all__ = ["create_app"]

logger = logging.getLogger(__name__)


def create_app(
    settings: Settings | None = None, *, services: Services | None = None, reconcile: bool = True
) -> FastAPI:
    """Build the app; ``services`` lets tests inject their own wiring."""
    settings = settings or Settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        owned = services is None
        # Blocking handlers (database I/O) run in this many threads; each holds at most one
        # pooled connection, so the two numbers are kept equal.
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.db_pool_size
        wired: Services = services or build_services(settings)
        app.state.services = wired
        loops = []
        if reconcile and "registry" in settings.components:
            loops.append(
                Periodic(
                    "reconcile",
                    wired.reconciler.reconcile_all,
                    settings.reconcile_interval_seconds,
                    before_serving=True,
                )
            )
        if "monitoring" in settings.components:
            # Tasks are deleted by the registry, which may not hold this process's files.
            loops.append(
                Periodic("artifact-sweep", wired.artifacts.remove_orphans, settings.artifact_sweep_seconds)
            )
        for loop in loops:
            loop.start()
        try:
            yield
        finally:
            for loop in loops:
                loop.stop()
            if owned:
                wired.close()

    prefix = settings.path_prefix
    app = FastAPI(
        title="fedops",
        version=fedops_services.__version__,
        description="Registry and monitoring APIs of the fedops federated-learning platform.",
        lifespan=lifespan,
        openapi_url=f"{prefix}/openapi.json",
        # No interactive docs pages: FastAPI's load Swagger UI and ReDoc from a CDN, and a
        # script from elsewhere on the console's origin could read its session's CSRF token.
        # The OpenAPI document itself stays, for generators and schemathesis.
        docs_url=None,
        redoc_url=None,
    )
    install_error_handlers(app)
    install_links(app)
    app.add_middleware(
        RequestIdMiddleware, render_error=lambda request_id: error_response(internal_error(request_id))
    )
    # Outermost: every answer is counted, the 500 rendered for an unhandled error included.
    app.state.http_metrics = instrument_http(app)
    # Probes and the scrape stay at the root; everything else moves under the prefix. The
    # routes carry the prefix themselves (no ASGI root_path): Starlette strips a root_path
    # from paths that start with it, which would also make every route answer without it.
    app.include_router(health.router)
    routers = [session.router]
    if "registry" in settings.components:
        routers += [tasks.router, servers.router, clients.router, conversions.router]
    if "monitoring" in settings.components:
        routers.append(monitoring.router)
    if settings.console:
        routers.append(console_router(StaticAssets()))
        if prefix:
            routers.append(_to_the_page(prefix))
    for router in routers:
        app.include_router(router, prefix=prefix)
    return app


def _to_the_page(prefix: str) -> APIRouter:
    """``/fedops`` -> ``/fedops/``: the page's relative URLs (``api/v1/...``, ``console/...``)
    resolve under the prefix only from a path that ends with a slash."""
    router = APIRouter(include_in_schema=False)

    @router.get("")
    def page() -> RedirectResponse:
        return RedirectResponse(f"{prefix}/", status_code=308)

    return router
