"""Slot-filling games: a formulation is a fixed sequence of components chosen one after another.

Every real game here has this shape (LipSDP, sphere packing, Small-Gain Nash, the toy
formulation): the state is the tuple of components chosen so far, the searcher fills the next slot,
and a full tuple is evaluated. :class:`SlotGame` derives from the list of :class:`Slot` declarations
everything that follows from that shape (``to_move``, ``apply``, ``features``, ``encode``,
``describe_state``), so a game writes only which values are legal next (``actions``,
which may depend on earlier choices) and how to evaluate.

Encoding, one number per slot (what the surrogates model):

* categorical values (strings, booleans, mixed): the index in ``choices``;
* integer values: the integer itself, between the smallest and largest choice;
* real values (finite ``choices`` of floats, or an :class:`~discover.types.Interval`): the value, or
  its natural log when ``log`` is set (radii, tolerances).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Sequence

from discover.game import Feature, Game
from discover.types import Action, Interval, Player, State


@dataclass(frozen=True)
class Slot:
    """One component: its name and every value it can take in any branch (or a continuous range)."""

    name: str
    choices: tuple[Any, ...] = ()
    interval: Interval | None = None
    log: bool = False

    def __post_init__(self) -> None:
        if bool(self.choices) == (self.interval is not None):
            raise ValueError(f"slot {self.name!r} needs either choices or an interval")
        if self.interval is not None and self.interval.log:  # a log-sampled interval is modelled on a log scale
            object.__setattr__(self, "log", True)
        if self.log and self.kind != "numeric":
            raise ValueError(f"slot {self.name!r}: log scale is for real values")
        if self.log and min(self._reals()) <= 0:
            raise ValueError(f"slot {self.name!r}: a log scale needs positive values")

    @property
    def kind(self) -> str:
        if self.interval is not None:
            return "numeric"
        if all(isinstance(c, int) and not isinstance(c, bool) for c in self.choices):
            return "integer"
        if all(isinstance(c, (int, float)) and not isinstance(c, bool) for c in self.choices):
            return "numeric"
        return "categorical"

    def _reals(self) -> tuple[float, float]:
        if self.interval is not None:
            return self.interval.low, self.interval.high
        return min(self.choices), max(self.choices)

    def _scale(self, value: float) -> float:
        return math.log(value) if self.log else float(value)

    def feature(self) -> Feature:
        if self.kind == "categorical":
            return Feature(self.name, "categorical", choices=self.choices)
        low, high = self._reals()
        if self.kind == "integer":
            return Feature(self.name, "integer", low, high)
        return Feature(f"log_{self.name}" if self.log else self.name, "numeric", self._scale(low), self._scale(high))

    def encode(self, value: Any) -> float:
        if self.kind == "categorical":
            return float(self.choices.index(value))
        return self._scale(value)


class SlotGame(Game):
    """A game whose states are tuples of slot values, filled in order by the searcher.

    Subclasses set ``slots`` (a class constant, or an instance attribute built from parameters)
    and write ``actions(state)`` (the legal values of ``self.next_slot(state)``, by default all its
    choices) and ``evaluate``. A game whose later slots depend on earlier choices (one slot list per
    formulation family, say) overrides ``slots_of`` instead and leaves ``slots`` empty: it then has no
    fixed-length ``features()``, and surrogates encode its states from the tree's decisions
    (:mod:`surrogates.space`), which handles such conditional spaces.
    """

    slots: Sequence[Slot] = ()

    def slots_of(self, state: State) -> Sequence[Slot]:
        """The slots of every state that starts like ``state`` (at least one more than ``state`` has,
        unless it is complete): ``slots`` unless the game branches."""
        return self.slots

    def initial_state(self) -> State:
        return ()

    def next_slot(self, state: State) -> Slot:
        return self.slots_of(state)[len(state)]

    def to_move(self, state: State) -> Player:
        return Player.TERMINAL if len(state) == len(self.slots_of(state)) else Player.SEARCHER

    def actions(self, state: State) -> Sequence[Action] | Interval:
        slot = self.next_slot(state)
        return slot.interval if slot.interval is not None else slot.choices

    def apply(self, state: State, action: Action) -> State:
        return (*state, action)

    def features(self) -> tuple[Feature, ...]:
        return tuple(slot.feature() for slot in self.slots)

    def encode(self, state: State) -> list[float]:
        return [slot.encode(value) for slot, value in zip(self.slots_of(state), state, strict=True)]

    def kind(self, state: State) -> tuple | None:
        """The formulation's categorical choices (solver, basis, family...): numbers such as a degree
        or a tolerance vary within a kind. None when it has none."""
        kind = tuple((slot.name, value) for slot, value in zip(self.slots_of(state), state)
                     if slot.kind == "categorical")
        return kind or None

    def describe_state(self, state: State) -> str:
        named = zip(self.slots_of(state), state)
        return ", ".join(f"{slot.name}={self.describe_action(v)}" for slot, v in named) or "(empty)"
