"""Errors a user can act on. Each message names the problem and what to do about it.

The command line prints these as one line and exits non-zero; anything else is a bug.
"""


class DiscoverError(Exception):
    """Base class: a problem with the user's input, not with the engine."""


class UnknownGameError(DiscoverError):
    pass


class PluginError(DiscoverError):
    """A registered game could not be imported or is not a valid Game."""


class ParameterError(DiscoverError):
    """A game parameter is unknown, missing or of the wrong type."""


class GameError(DiscoverError):
    """A game broke its protocol (no moves, an unhashable state, bad probabilities...)."""


class StoreError(DiscoverError):
    """A campaign database is missing, corrupted, or from an incompatible version."""


class SettingsError(DiscoverError):
    """A budget or campaign setting makes no sense (e.g. zero evaluations)."""
