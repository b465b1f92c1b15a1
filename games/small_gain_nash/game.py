"""The Small-Gain Nash game: assemble a certification (region, blocks, geometry, estimator, weights).

Moves, in order: the geometry (euclidean, or entropic when a player is on a simplex), the block
partition (one block per player, or per coordinate where the sets allow it), the region's radius
from a ladder around the example's natural scale, the region's centre (the candidate equilibrium,
or shifted by half the radius along the diagonal), how the constants are obtained (exact when the
Jacobian is constant; sampled at 64 or 512 points), and how the weights are optimised (convex or BO).

Value (parameter ``objective``): the certified margin (the flow's contraction rate) or the radius of
the certified region. A formulation that certifies nothing is recorded as infeasible with the reason;
one that cannot be evaluated (losses undefined on the region) as failed.
"""

from __future__ import annotations

import time

from discover.game import Param
from discover.types import EvalContext, Objective, Outcome, Status
from games.slots import Slot, SlotGame
from games.small_gain_nash.certificate import WEIGHT_METHODS, certify
from games.small_gain_nash.constants import Region
from games.small_gain_nash.examples import EXAMPLES, load_example
from games.small_gain_nash.geometry import GEOMETRIES, PARTITIONS, charts
from games.small_gain_nash.verify import recheck

RADIUS_FACTORS = (0.25, 0.5, 1.0, 2.0, 4.0)
OFFSETS = (0.0, 0.5)
ESTIMATORS = {"exact": ("exact", 0), "interval": ("interval", 0), "sampled-512": ("sampled", 512)}
OBJECTIVES = ("margin", "region")


class SmallGainNashGame(SlotGame):
    """Certify contraction to the equilibrium in a region of a built-in example game (a Nash
    equilibrium of the game restricted to the region); maximise margin or region."""

    name = "small-gain-nash"
    expensive = True
    params = (
        Param("game", "str", "coupled-quadratic", "the example game to certify", choices=tuple(EXAMPLES)),
        Param("objective", "str", "margin", "what to maximise: the certified margin, or the certified region's radius",
              choices=OBJECTIVES),
        Param("safety", "float", 0.1, "relative safety margin applied to sampled constants"),
        Param("bo_budget", "int", 30, "margin evaluations of one BO weight search (before its local polish)"),
    )

    def __init__(self, game: str = "coupled-quadratic", objective: str = "margin", safety: float = 0.1,
                 bo_budget: int = 30) -> None:
        if objective not in OBJECTIVES:
            raise ValueError(f"objective must be one of {', '.join(OBJECTIVES)}, got {objective!r}")
        if not 0 <= safety < 1:
            raise ValueError(f"safety must be in [0, 1), got {safety}")
        if bo_budget < 2:
            raise ValueError(f"bo_budget must be at least 2, got {bo_budget}")
        self.game, self.objective, self.safety, self.bo_budget = game, objective, safety, bo_budget
        self.quantity = Objective(f"certified {objective}", "max")
        self.model, example = load_example(game)
        self.radii = tuple(example.scale * f for f in RADIUS_FACTORS)
        self.slots = (Slot("geometry", GEOMETRIES), Slot("partition", PARTITIONS), Slot("radius", self.radii, log=True),
                      Slot("offset", OFFSETS), Slot("estimator", tuple(ESTIMATORS)), Slot("weights", WEIGHT_METHODS))
        # built once: the planner asks for moves at every visit
        self.charts = charts(self.model)
        self.partitions = {g: chart.partitions() for g, chart in self.charts.items()}

    def __reduce__(self) -> tuple:
        # the example's losses are closures; workers rebuild the game from its parameters instead
        return (type(self), (self.game, self.objective, self.safety, self.bo_budget))

    def actions(self, state: tuple) -> tuple:
        slot = self.next_slot(state).name
        if slot == "geometry":
            return tuple(self.charts)
        if slot == "partition":
            return self.partitions[state[0]]
        if slot == "estimator":
            exact = self.charts[state[0]].exact_jacobian() is not None
            return tuple(e for e in ESTIMATORS if exact or e != "exact")
        return super().actions(state)

    def region(self, state: tuple) -> Region:
        """The box of the chosen radius around the candidate equilibrium, shifted by the chosen offset."""
        geometry, _, radius, offset = state[:4]
        centre = self.charts[geometry].from_primal(self.model.start()) + offset * radius
        return Region(tuple(float(c) for c in centre), float(radius))

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        geometry, partition, radius, _, estimator, weights = state
        method, samples = ESTIMATORS[estimator]
        start = time.perf_counter()
        try:
            certificate = certify(self.model, self.region(state), geometry, partition, method, samples, self.safety,
                                  weights, seed=context.seed, bo_budget=self.bo_budget)
        except ValueError as error:
            return Outcome.failure(Status.FAILED, str(error), time.perf_counter() - start)
        cost = time.perf_counter() - start
        artifacts = certificate.to_dict()
        if certificate.estimated:
            return Outcome.failure(Status.INFEASIBLE, f"estimated, not certified: {certificate.summary()}", cost,
                                   artifacts)
        if not certificate.certified:
            return Outcome.failure(Status.INFEASIBLE, certificate.reason, cost, artifacts)
        value = certificate.margin if self.objective == "margin" else radius
        return Outcome.ok(value, artifacts, cost)

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Re-derive the certificate from the game (:func:`.verify.recheck`); the value must be what it proves."""
        a = outcome.artifacts
        problem = recheck(self.model, a)
        if problem:
            return problem
        region = self.region(state)
        if a["geometry"] != state[0] or a["region"] != {"centre": list(region.centre), "radius": region.radius}:
            return "the certificate is for another geometry or region than this state's"
        proven = a["margin"] if self.objective == "margin" else a["region"]["radius"]
        if not outcome.value <= proven:
            return f"value {outcome.value} exceeds the certificate's {proven}"
        return None
