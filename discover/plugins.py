"""Plugins found through entry points: games, surrogates and methods load the same way.

A plugin is third-party code that may fail to import in any way; that becomes one
:class:`~discover.errors.PluginError` line naming the plugin, never a traceback.
"""

from __future__ import annotations

import importlib.metadata
from typing import Any

from discover.errors import PluginError


def plugins(group: str) -> dict[str, importlib.metadata.EntryPoint]:
    """The entry points of ``group`` by name (not imported yet)."""
    return {ep.name: ep for ep in importlib.metadata.entry_points(group=group)}


def load_plugin(group: str, name: str, what: str) -> Any:
    """Import the object behind entry point ``name`` of ``group``."""
    ep = plugins(group)[name]
    try:
        return ep.load()
    except Exception as exc:  # a plugin may fail in any way; report it, never crash
        raise PluginError(
            f"{what} {name!r} ({ep.value}) failed to import: {type(exc).__name__}: {exc}. "
            "Fix the plugin or uninstall the package that provides it."
        ) from None
