"""The web console: a single-page app served on the API's own origin.

The pages are ES modules (Preact and htm, vendored under ``static/vendor`` with their
licences; no build step, nothing fetched at run time) that call the REST API relative to
the page, so the console works the same at ``/`` and behind an Ingress path prefix. The
browser signs in by exchanging the admin token for a session cookie (``security/sessions``).
"""

from fedops_services.console.assets import StaticAssets
from fedops_services.console.routes import console_router

__all__ = ["StaticAssets", "console_router"]
