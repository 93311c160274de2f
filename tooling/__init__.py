"""Developer tooling, run from the repository's top directory and never installed.

``local_federation`` runs a whole federation on this machine as real processes (the
services, FL servers, edge clients); the end-to-end tests and the benchmarks drive it.
``demo`` is ``make run`` (``python -m tooling.demo``). Neither is part of the ``fedops``
or ``fedops_services`` distributions: they need the repository (its example clients),
and the installed packages never import them.
"""
