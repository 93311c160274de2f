"""Kubernetes resource quantities, parsed the way the API server parses them.

The spec stores quantities as the user wrote them (normalised), so that what the
registry shows, what the Kubernetes provisioner sends and what the cluster reports
stay textually comparable. Parsing exists to reject nonsense early with a message a
person can act on, instead of a 422 from the cluster minutes later.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

__all__ = ["normalize_bytes", "normalize_cpu", "parse_quantity", "parse_whole_count"]

_BINARY_SUFFIXES = {"Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40, "Pi": 2**50, "Ei": 2**60}
_DECIMAL_SUFFIXES = {
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"^(?P<number>[0-9]+(\.[0-9]*)?|\.[0-9]+)(?P<suffix>[a-zA-Z]{0,2}|[eE][-+]?[0-9]+)$")


def parse_quantity(text: str) -> Decimal:
    """Return the numeric value of a Kubernetes quantity such as ``500m`` or ``2Gi``.

    Raises
    ------
    ValueError
        If ``text`` is not a quantity; the message says what a valid one looks like.
    """
    match = _QUANTITY.match(text.strip())
    if match is None:
        raise ValueError(
            f"{text!r} is not a Kubernetes quantity; use forms like '500m', '2', '512Mi' or '2Gi'"
        )
    try:
        number = Decimal(match.group("number"))
    except InvalidOperation as exc:  # pragma: no cover - the regex admits only decimals
        raise ValueError(f"{text!r} is not a number") from exc
    suffix = match.group("suffix")
    if suffix in _BINARY_SUFFIXES:
        return number * _BINARY_SUFFIXES[suffix]
    if suffix in _DECIMAL_SUFFIXES:
        return number * _DECIMAL_SUFFIXES[suffix]
    if suffix[:1] in ("e", "E"):
        return number * (Decimal(10) ** int(suffix[1:]))
    raise ValueError(f"{text!r} has an unknown unit {suffix!r}; use one of m, k, M, G, T, Ki, Mi, Gi, Ti")


def _as_text(value: object) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)):
        raise ValueError("must be a quantity string such as '500m' or '2Gi'")
    return str(value).strip()


def normalize_cpu(value: object) -> str:
    """Validate a CPU quantity (cores or millicores) and return it as text."""
    text = _as_text(value)
    amount = parse_quantity(text)
    if amount <= 0:
        raise ValueError(f"cpu must be positive, got {text!r}")
    if amount < Decimal("0.001"):
        raise ValueError(f"cpu {text!r} is below the smallest schedulable unit '1m'")
    return text


def normalize_bytes(value: object, *, what: str) -> str:
    """Validate a byte quantity (memory, storage) and return it as text."""
    text = _as_text(value)
    amount = parse_quantity(text)
    if amount <= 0:
        raise ValueError(f"{what} must be positive, got {text!r}")
    if amount != amount.to_integral_value():
        raise ValueError(f"{what} {text!r} is a fraction of a byte; use units like '512Mi' or '2Gi'")
    return text


def parse_whole_count(value: object, *, what: str) -> int:
    """Accept a non-negative whole number given as int or digit string."""
    if isinstance(value, bool):
        raise ValueError(f"{what} must be a whole number, not a boolean")
    if isinstance(value, int):
        count = value
    elif isinstance(value, float) and value.is_integer():
        count = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        count = int(value.strip())
    else:
        raise ValueError(
            f"{what} must be a whole number (got {value!r}); Kubernetes schedules whole devices, "
            "it cannot give a pod part of one"
        )
    if count < 0:
        raise ValueError(f"{what} must not be negative, got {count}")
    return count
