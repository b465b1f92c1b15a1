"""Published benchmark problems for tree-structured, mixed and constrained spaces, as plugin games.

Each is written the way a user would write a plugin: a state is the tuple of moves so far, one
``Interval`` per continuous variable, a finite move set per discrete one, and no ``features()``:
the surrogate derives its encoding from the game tree. Values are minus the published objective
(the searcher maximises); an infeasible point is an ``INFEASIBLE`` evaluation, and the constrained
problems report their published constraint values g_i (<= 0 when satisfied) in ``Outcome.constraints``
on every evaluation, as constrained-BO benchmarks do. ``optimum`` is minus the published best value, and ``optimal_state`` the published
minimiser (the tests check that one gives the other).

[Jenatton] Jenatton, Archambeau, Gonzalez, Seeger, "Bayesian optimization with tree-structured
           dependencies", ICML 2017 (the synthetic tree function, also in Ax's benchmarks).
[CoCaBO]   Ru, Alvi, Nguyen, Osborne, Roberts, "Bayesian optimisation over multiple continuous and
           categorical inputs", ICML 2020 (Func2C; its 1e-6 noise term is left out).
[Gramacy]  Gramacy, Gray, Le Digabel, Lee, Ranjan, Wells, Wild, "Modeling an augmented Lagrangian for
           blackbox constrained optimization", Technometrics 2016 (the two-constraint toy problem).
[Vessel]   Sandgren, "Nonlinear integer and discrete programming in mechanical design optimization",
           J. Mech. Des. 1990; best known 6059.714 (Coello & Mezura-Montes 2002).
[Spring]   Arora, "Introduction to optimum design", 1989; Belegundu 1982; best known 0.0126652.
"""

from __future__ import annotations

import math
from typing import ClassVar, Sequence

from discover.game import Game
from discover.types import Action, EvalContext, Interval, Outcome, Player, State, Status


class MovesGame(Game):
    """Moves appended to a tuple until ``size(state)`` of them are made; no features()."""

    optimum: ClassVar[float]
    optimal_state: ClassVar[tuple]

    def size(self, state: State) -> int:
        raise NotImplementedError

    def initial_state(self) -> State:
        return ()

    def to_move(self, state: State) -> Player:
        return Player.TERMINAL if len(state) == self.size(state) else Player.SEARCHER

    def apply(self, state: State, action: Action) -> State:
        return (*state, action)

    def objective(self, state: State) -> float:
        """The published objective (minimised)."""
        raise NotImplementedError

    def constraints(self, state: State) -> tuple[float, ...]:
        """The published constraints g_i, satisfied when <= 0 (none by default)."""
        return ()

    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        g = self.constraints(state)
        if g and max(g) > TOLERANCE:
            return Outcome.failure(Status.INFEASIBLE, "a constraint is violated", constraints=g)
        return Outcome.ok(-self.objective(state), constraints=g)


UNIT = Interval(0.0, 1.0)
TOLERANCE = 1e-5


class Jenatton(MovesGame):
    """[Jenatton]: x1 picks a branch, x2 or x3 a leaf; the leaf's variable and a variable shared
    by the branch (r8 or r9) are continuous. f = x_leaf^2 + offset + r; minimum 0.1."""

    name = "bench-jenatton"
    optimum = -0.1
    optimal_state = (0, 0, 0.0, 0.0)

    def size(self, state: State) -> int:
        return 4

    def actions(self, state: State) -> Sequence[Action] | Interval:
        return (0, 1) if len(state) < 2 else UNIT

    def objective(self, state: State) -> float:
        x1, x23, leaf, shared = state
        return leaf ** 2 + 0.1 * (1 + 2 * x1 + x23) + shared


def _rosenbrock(x: float, y: float) -> float:
    return (100 * (y - x * x) ** 2 + (x - 1) ** 2) / 300


def _six_hump(x: float, y: float) -> float:
    return ((4 - 2.1 * x * x + x ** 4 / 3) * x * x + x * y + (-4 + 4 * y * y) * y * y) / 10


def _beale(x: float, y: float) -> float:
    return ((1.5 - x + x * y) ** 2 + (2.25 - x + x * y * y) ** 2 + (2.625 - x + x * y ** 3) ** 2) / 50


FUNCTIONS = {"rosenbrock": _rosenbrock, "six-hump": _six_hump, "beale": _beale}


class Func2C(MovesGame):
    """[CoCaBO] Func2C: two categorical variables (3 and 5 values) pick two of Rosenbrock,
    six-hump camel and Beale, summed at 2x for x in [-1, 1]^2; minimum -0.2063."""

    name = "bench-func2c"
    optimum = 0.2063
    optimal_state = ("six-hump", "six-hump", -0.0898 / 2, 0.7126 / 2)
    FIRST = ("rosenbrock", "six-hump", "beale")
    SECOND = ("rosenbrock", "six-hump", "beale", "beale-2", "beale-3")  # indices 2-4 are all Beale

    def size(self, state: State) -> int:
        return 4

    def actions(self, state: State) -> Sequence[Action] | Interval:
        return [self.FIRST, self.SECOND][len(state)] if len(state) < 2 else Interval(-1.0, 1.0)

    def objective(self, state: State) -> float:
        first, second, x, y = state
        x, y = 2 * x, 2 * y
        return FUNCTIONS[first](x, y) + FUNCTIONS[second.split("-")[0] if second.startswith("beale") else second](x, y)


class Gramacy(MovesGame):
    """[Gramacy]: minimise x1 + x2 on [0, 1]^2 subject to
    1.5 - x1 - 2 x2 - 0.5 sin(2 pi (x1^2 - 2 x2)) <= 0 and x1^2 + x2^2 - 1.5 <= 0; minimum 0.5998."""

    name = "bench-gramacy"
    optimum = -0.5998
    optimal_state = (0.1954, 0.4044)

    def size(self, state: State) -> int:
        return 2

    def actions(self, state: State) -> Interval:
        return UNIT

    def objective(self, state: State) -> float:
        return state[0] + state[1]

    def constraints(self, state: State) -> tuple[float, ...]:
        x1, x2 = state
        return (1.5 - x1 - 2 * x2 - 0.5 * math.sin(2 * math.pi * (x1 * x1 - 2 * x2)), x1 * x1 + x2 * x2 - 1.5)


THICKNESS = tuple(round(0.0625 * k, 4) for k in range(1, 100))  # plates come in multiples of 1/16 inch


class PressureVessel(MovesGame):
    """[Vessel]: shell and head thickness (multiples of 1/16 in), inner radius and length in
    [10, 200]; minimise the cost 0.6224 Ts R L + 1.7781 Th R^2 + 3.1661 Ts^2 L + 19.84 Ts^2 R
    under four constraints; best known 6059.714."""

    name = "bench-pressure-vessel"
    optimum = -6059.714
    optimal_state = (0.8125, 0.4375, 42.0984456, 176.6365958)

    def size(self, state: State) -> int:
        return 4

    def actions(self, state: State) -> Sequence[Action] | Interval:
        return THICKNESS if len(state) < 2 else Interval(10.0, 200.0)

    def constraints(self, state: State) -> tuple[float, ...]:
        ts, th, r, length = state
        return (-ts + 0.0193 * r, -th + 0.00954 * r,
                (-math.pi * r * r * length - 4 / 3 * math.pi * r ** 3) / 1_296_000 + 1, length / 240 - 1)

    def objective(self, state: State) -> float:
        ts, th, r, length = state
        return 0.6224 * ts * r * length + 1.7781 * th * r * r + 3.1661 * ts * ts * length + 19.84 * ts * ts * r


class Spring(MovesGame):
    """[Spring]: wire diameter d, coil diameter D and number of coils N; minimise the weight
    (N + 2) D d^2 under shear, surge-frequency, deflection and diameter constraints; 0.0126652."""

    name = "bench-spring"
    optimum = -0.0126652
    optimal_state = (0.051689, 0.356718, 11.288966)

    def size(self, state: State) -> int:
        return 3

    def actions(self, state: State) -> Interval:
        return (Interval(0.05, 2.0), Interval(0.25, 1.3), Interval(2.0, 15.0))[len(state)]

    def constraints(self, state: State) -> tuple[float, ...]:
        d, D, N = state
        g1 = 1 - D ** 3 * N / (71785 * d ** 4)
        g2 = (4 * D * D - d * D) / (12566 * (D * d ** 3 - d ** 4)) + 1 / (5108 * d * d) - 1
        g3 = 1 - 140.45 * d / (D * D * N)
        g4 = (d + D) / 1.5 - 1
        return (g1, g2, g3, g4)

    def objective(self, state: State) -> float:
        d, D, N = state
        return (N + 2) * D * d * d


PUBLISHED = (Jenatton, Func2C, Gramacy, PressureVessel, Spring)
