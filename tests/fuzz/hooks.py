"""Schemathesis hooks for the fuzz suite (loaded through SCHEMATHESIS_HOOKS).

One extra check: in the runs with no credential, or with a client credential of another
task, nothing under the refused prefix may ever be answered with a success.
"""

from __future__ import annotations

import os
from typing import Any

import schemathesis

REFUSED_ENV = "FEDOPS_FUZZ_REFUSED_PATHS_CONTAINING"


@schemathesis.check
def refused_without_the_right_credential(ctx: Any, response: Any, case: Any) -> bool | None:
    marker = os.environ.get(REFUSED_ENV)
    if marker and marker in case.formatted_path and response.status_code < 300:
        raise AssertionError(
            f"{case.method} {case.formatted_path} answered {response.status_code} to a caller that "
            "may not see it"
        )
    return None
