"""Name -> factory registries for backends.

Built-in backends register exactly like third-party ones: with :meth:`Registry.register`, or from a
package's entry point in the group named by the registry (``docket.embedders``, ``docket.stores``,
``docket.parsers``). Config files name backends by these short names, never by import path.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable
from importlib.metadata import EntryPoints, entry_points
from typing import Any, Generic, TypeVar, cast

from docket.errors import ConfigError, UnknownBackendError

T = TypeVar("T")

__all__ = ["Registry"]


@functools.cache
def _installed() -> Any:  # SelectableGroups before Python 3.12, EntryPoints since: both select(group=)
    return entry_points()


def installed_entry_points(group: str) -> EntryPoints:
    """The installed entry points of ``group``. All are read once per process: reading them opens
    the metadata of every installed distribution (about 30 ms in a large environment), and each
    registry, and the digest of what ingest parses with, would otherwise read them all again."""
    return cast(EntryPoints, _installed().select(group=group))


class Registry(Generic[T]):
    """A registry of named factories of one kind of backend."""

    def __init__(self, kind: str, group: str) -> None:
        self.kind = kind
        self.group = group
        self._factories: dict[str, Callable[..., T]] = {}
        self._entry_points_loaded = False

    def register(self, name: str) -> Callable[[Callable[..., T]], Callable[..., T]]:
        def decorator(factory: Callable[..., T]) -> Callable[..., T]:
            self._factories[name] = factory
            return factory

        return decorator

    def _load_entry_points(self) -> None:
        if self._entry_points_loaded:
            return
        self._entry_points_loaded = True
        for ep in installed_entry_points(self.group):
            if ep.name not in self._factories:
                self._factories[ep.name] = ep.load()

    def names(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._factories)

    def get(self, name: str) -> Callable[..., T]:
        if name not in self._factories:  # a built-in wins over an entry point of its name: no need to read them
            self._load_entry_points()
        try:
            return self._factories[name]
        except KeyError:
            valid = ", ".join(self.names())
            raise UnknownBackendError(f"unknown {self.kind} '{name}'. Valid {self.kind}s: {valid}") from None

    def create(self, name: str, **options: Any) -> T:
        """Build backend ``name``; options it does not take are rejected with the valid ones."""
        factory = self.get(name)
        params = inspect.signature(factory).parameters
        takes_any = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in params.values())
        if not takes_any:
            unknown = sorted(set(options) - set(params))
            if unknown:
                valid = ", ".join(sorted(p for p in params if p != "self")) or "none"
                raise ConfigError(f"{self.kind} '{name}' has no option(s) {', '.join(unknown)}. Valid options: {valid}")
        return factory(**options)
