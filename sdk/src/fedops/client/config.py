"""A FedOps project's ``conf/config.yaml`` as the object user code expects (``cfg.x.y``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from fedops.spec.fedops_config import resolve_interpolations

__all__ = ["Config", "load_config"]


class Config(Mapping[str, Any]):
    """Read-only attribute and item access over a nested mapping, like Hydra's DictConfig."""

    def __init__(self, values: Mapping[str, Any]) -> None:
        self._values = {k: Config(v) if isinstance(v, Mapping) else v for k, v in values.items()}

    def __getattr__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            raise AttributeError(f"the config has no key {name!r}") from None

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def get(self, key: str, default: Any = None) -> Any:
        return self._values.get(key, default)

    def to_dict(self) -> dict[str, Any]:
        return {k: v.to_dict() if isinstance(v, Config) else v for k, v in self._values.items()}

    def merged(self, overrides: Mapping[str, Any]) -> Config:
        """A copy with ``overrides`` (nested) applied on top."""
        return Config(_merge(self.to_dict(), overrides))

    def __repr__(self) -> str:
        return f"Config({self.to_dict()!r})"


def _merge(base: dict[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in overrides.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def load_config(path: Path) -> Config:
    document = yaml.safe_load(path.read_text()) or {}
    if not isinstance(document, dict):
        raise ValueError(f"{path} must hold a YAML mapping")
    return Config(resolve_interpolations(document))
