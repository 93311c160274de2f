"""``python -m fedops.client.supernode ARGS``: Flower's SuperNode with short polling sleeps.

See :mod:`fedops.flower_tuning`: the SuperNode's 3 s idle sleep and 1 s payload backoff
are shortened, then the normal ``flower-supernode`` CLI runs unchanged.
"""

from __future__ import annotations

import os

__all__ = ["main"]


def main() -> None:
    from flwr.supernode.cli.flower_supernode import flower_supernode

    from fedops.flower_tuning import tune_flower

    tune_flower(supernode=True, max_sleep_seconds=float(os.environ.get("FEDOPS_SUPERNODE_MAX_SLEEP", "0.05")))
    flower_supernode()


if __name__ == "__main__":
    main()
