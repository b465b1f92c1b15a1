"""A formulation-assembly game with a known optimum, built like the real ones.

Moves, in order: a formulation family, a degree, a numeric precision, and a continuous scale. The
value has the traps real formulation spaces have: the "lp" family is good on average but capped
(deceptive), the "sdp" family holds the optimum but only with high precision (double precision at
high degree is infeasible), and the best scale depends on the family (an interaction with a
continuous component). Optimum: 1.0 at ("sdp", 10, "quad", 1.3).
"""

from __future__ import annotations

import time

from discover.game import Feature, Game, Param
from discover.types import EvalContext, Interval, Outcome, Player, Status

FAMILIES = ("lp", "sdp", "hybrid")
DEGREES = (2, 4, 6, 8, 10, 12)
PRECISIONS = ("double", "quad")
SCALE = Interval(0.5, 2.0)
BEST_SCALE = {"lp": 1.0, "sdp": 1.3, "hybrid": 0.8}

State = tuple  # (family, degree, precision, scale), a prefix of it while under construction


def formulation_value(family: str, degree: int, precision: str, scale: float) -> float | None:
    """The known objective; None where the formulation is infeasible."""
    if family == "lp":
        base = 0.6 - 0.3 * 2.718281828 ** (-degree / 3)
    elif family == "hybrid":
        base = 0.5 + (0.1 if degree == 6 else 0.0) - (0.05 if precision == "double" else 0.0)
    elif precision == "double":
        if degree >= 8:
            return None
        base = 0.3 + 0.05 * degree
    else:
        base = 1.0 - 0.02 * (degree - 10) ** 2
    return base - 0.5 * (scale - BEST_SCALE[family]) ** 2


class FormulationGame(Game):
    """Assemble (family, degree, precision, scale); value known in closed form, optimum 1.0."""

    name = "toy-formulation"
    params = (Param("delay", "float", 0.0, "seconds each evaluation sleeps, to mimic a solver"),)
    optimum = 1.0
    optimal_state = ("sdp", 10, "quad", 1.3)

    def __init__(self, delay: float = 0.0) -> None:
        if delay < 0:
            raise ValueError("delay must be >= 0")
        self.delay = delay

    def initial_state(self) -> State:
        return ()

    def to_move(self, state: State) -> Player:
        return Player.TERMINAL if len(state) == 4 else Player.SEARCHER

    def actions(self, state: State):
        return (FAMILIES, DEGREES, PRECISIONS, SCALE)[len(state)]

    def apply(self, state: State, action) -> State:
        return (*state, action)

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        if self.delay:
            time.sleep(self.delay)
        value = formulation_value(*state)
        cost = time.perf_counter() - start
        if value is None:
            return Outcome.failure(Status.INFEASIBLE, "double precision is unstable at this degree", cost)
        return Outcome.ok(value, {"formulation": list(state)}, cost)

    def features(self) -> tuple[Feature, ...]:
        return (
            Feature("family", "categorical", choices=FAMILIES),
            Feature("degree", "integer", DEGREES[0], DEGREES[-1]),
            Feature("precision", "categorical", choices=PRECISIONS),
            Feature("scale", "numeric", SCALE.low, SCALE.high),
        )

    def encode(self, state: State) -> list[float]:
        family, degree, precision, scale = state
        return [FAMILIES.index(family), degree, PRECISIONS.index(precision), scale]

    def decode(self, vector) -> State:
        family, degree, precision, scale = vector
        return (FAMILIES[int(round(family))], int(round(degree)), PRECISIONS[int(round(precision))],
                float(min(max(scale, SCALE.low), SCALE.high)))

    def describe_state(self, state: State) -> str:
        names = ("family", "degree", "precision", "scale")
        return ", ".join(f"{n}={self.describe_action(v)}" for n, v in zip(names, state)) or "(empty)"
