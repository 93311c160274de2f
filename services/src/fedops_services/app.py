"""The ASGI application: registry and monitoring APIs on one origin."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
from fastapi import FastAPI

import fedops_services
from fedops_services.api.errors import install_error_handlers
from fedops_services.api.routes import clients, health, monitoring, servers, tasks
from fedops_services.config import Settings
from fedops_services.container import Services, build_services
from fedops_services.registry.reconciler import Reconciler

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
        app.state.services = services or build_services(settings)
        reconciler = Reconciler(app.state.services.servers, settings.reconcile_interval_seconds)
        if reconcile and "registry" in settings.components:
            reconciler.start()
        try:
            yield
        finally:
            reconciler.stop()
            if owned:
                app.state.services.close()

    app = FastAPI(
        title="fedops",
        version=fedops_services.__version__,
        description="Registry and monitoring APIs of the fedops federated-learning platform.",
        lifespan=lifespan,
    )
    install_error_handlers(app)
    app.include_router(health.router)
    if "registry" in settings.components:
        for router in (tasks.router, servers.router, clients.router):
            app.include_router(router)
    if "monitoring" in settings.components:
        app.include_router(monitoring.router)
    return app
