"""The protocol check every game's tests run (it lives in the engine, so ``discover check`` runs it too)."""

from discover.check import check_game

__all__ = ["check_game"]
