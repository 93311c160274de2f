"""Checks a fedops installation over HTTP (`helm test`).

Reads FEDOPS_REGISTRY_URL, FEDOPS_MONITORING_URL, FEDOPS_ADMIN_TOKEN and FEDOPS_PATH_PREFIX;
expects 200 from /readyz of both services (always at the root) and from
<prefix>/api/v1/whoami with the admin token. Retries for a
while, since the services may still be connecting to the database. Exit status 0 when
every check passed.
"""

import os
import sys
import time
import urllib.error
import urllib.request


def status(url: str, token: str | None = None) -> int | str:
    request = urllib.request.Request(url)  # noqa: S310 - http URLs from the chart
    if token:
        request.add_header("Authorization", "Bearer " + token)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return int(response.status)
    except urllib.error.HTTPError as error:
        return error.code
    except OSError as error:
        return str(error)


def main() -> int:
    registry = os.environ["FEDOPS_REGISTRY_URL"].rstrip("/")
    monitoring = os.environ["FEDOPS_MONITORING_URL"].rstrip("/")
    token = os.environ["FEDOPS_ADMIN_TOKEN"]
    prefix = os.environ.get("FEDOPS_PATH_PREFIX", "")
    deadline = time.monotonic() + float(os.environ.get("FEDOPS_CHECK_SECONDS", "60"))
    checks = [
        (registry + "/readyz", None),
        (monitoring + "/readyz", None),
        (registry + prefix + "/api/v1/whoami", token),
        (monitoring + prefix + "/api/v1/whoami", token),
    ]
    failed: list[str] = []
    for url, credential in checks:
        while True:
            result = status(url, credential)
            if result == 200 or time.monotonic() > deadline:
                break
            time.sleep(2)
        print(url, result, flush=True)
        if result != 200:
            failed.append(url)
    if failed:
        print("FAILED:", ", ".join(failed), flush=True)
        return 1
    print("all checks passed", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
