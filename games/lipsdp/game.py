"""The LipSDP game: assemble a formulation layer by layer, solve it, verify it.

Moves, in order: the MaxMin/GroupSort encoding (only for networks that have such layers), then for
each boundary between hidden layers whether to cut the network there (a product of segment bounds is
still a bound), the multiplier structure (layer or neuron), monolithic or chordal LMIs, the solver
and its tolerance. Value: minus the verified bound; cost: seconds, which the engine's cost model
learns. A formulation whose multipliers do not verify is recorded as failed with the reason, and so
is a "bound" below the sampled lower bound (that would be a bug).
"""

from __future__ import annotations

import math
import time
from functools import cached_property

import numpy as np
from scipy.stats import ortho_group

from discover.game import Feature, Game, Param
from discover.types import EvalContext, Outcome, Player, Resources, Status
from games.lipsdp.api import lipschitz_bound
from games.lipsdp.bounds import lower_bound
from games.lipsdp.formulation import ENCODINGS, STRUCTURES, multipliers, segments
from games.lipsdp.network import ACTIVATION_NAMES, Network, load_network, random_network
from games.lipsdp.solve import SOLVERS
from games.lipsdp.verify import certified_bound

TOLERANCES = (1e-4, 1e-6, 1e-8)
DECOMPOSITIONS = ("monolithic", "chordal")


def demo_network(name: str) -> Network:
    """Built-in networks: ``demo`` (random ReLU 64-32-32-32-10), ``demo-maxmin`` (orthogonal MaxMin, 16 wide)."""
    if name == "demo":
        return random_network([64, 32, 32, 32, 10], "relu", seed=0)
    if name == "demo-maxmin":
        weights = tuple(ortho_group.rvs(16, random_state=k) for k in range(4))
        return Network(weights, tuple(np.zeros(16) for _ in weights), (ACTIVATION_NAMES["maxmin"],) * 3)
    return load_network(name)


class LipSDPGame(Game):
    """Certified l2 Lipschitz bounds of a network: search over LipSDP formulations."""

    name = "lipsdp"
    expensive = True
    params = (
        Param("model", "path", "demo", "a torch.save file of an nn.Sequential, an .npz of weights, or a built-in "
                                       "network: demo (ReLU), demo-maxmin"),
        Param("solve_seconds", "float", 300.0, "time limit of one solver call; the iterate reached is verified"),
    )

    def __init__(self, model: str = "demo", solve_seconds: float = 300.0) -> None:
        if solve_seconds <= 0:
            raise ValueError(f"solve_seconds must be positive, got {solve_seconds}")
        self.model, self.solve_seconds = model, solve_seconds
        self.network = demo_network(model)
        self.grouped = any(a.group_size for a in self.network.activations)
        self.slots = (("encoding",) if self.grouped else ()) + tuple(
            f"cut{c}" for c in range(1, self.network.depth)) + ("structure", "decomposition", "solver", "tolerance")

    def __reduce__(self) -> tuple:
        return (type(self), (self.model, self.solve_seconds))

    @cached_property
    def lower(self) -> float:
        return lower_bound(self.network)

    def initial_state(self) -> tuple:
        return ()

    def to_move(self, state: tuple) -> Player:
        return Player.TERMINAL if len(state) == len(self.slots) else Player.SEARCHER

    def actions(self, state: tuple) -> tuple:
        slot = self.slots[len(state)]
        if slot == "encoding":
            return ENCODINGS
        if slot.startswith("cut"):
            return (False, True)
        return {"structure": STRUCTURES, "decomposition": DECOMPOSITIONS, "solver": SOLVERS,
                "tolerance": TOLERANCES}[slot]

    def apply(self, state: tuple, action) -> tuple:
        return (*state, action)

    def formulation(self, state: tuple) -> dict:
        named = dict(zip(self.slots, state))
        cuts = tuple(c for c in range(1, self.network.depth) if named[f"cut{c}"])
        return {"formulation": named["structure"], "cuts": cuts, "chordal": named["decomposition"] == "chordal",
                "encoding": named.get("encoding", ENCODINGS[0]), "solver": named["solver"],
                "tolerance": named["tolerance"]}

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        result = lipschitz_bound(self.network, lower=False, time_limit=self.solve_seconds, **self.formulation(state))
        cost = time.perf_counter() - start
        artifacts = {**result.certificate(), "lower": self.lower, "summary": result.summary()}
        if not result.verified:
            return Outcome.failure(Status.FAILED, result.reason, cost, artifacts)
        if result.bound < self.lower * (1 - 1e-9):
            return Outcome.failure(Status.FAILED, f"verified bound {result.bound} is below the lower bound "
                                                  f"{self.lower}: a bug", cost, artifacts)
        return Outcome.ok(-result.bound, artifacts, cost)

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Recompute every segment's bound from the stored multipliers; the product must reproduce the value."""
        f = self.formulation(state)
        parts = segments(self.network, f["cuts"], f["encoding"])
        stored = outcome.artifacts["segments"]
        if len(stored) != len(parts):
            return f"{len(stored)} stored segments for a formulation with {len(parts)}"
        bound = 1.0
        for segment, record in zip(parts, stored):
            mults = [multipliers(c, f["formulation"]) for c in segment.channels]
            check = certified_bound(segment, [np.asarray(t) for t in record["multipliers"]], mults)
            if check.bound is None:
                return f"hidden layers {record['layers']}: {check.reason}"
            bound *= check.bound
        if not math.isclose(bound, -outcome.value, rel_tol=1e-9):
            return f"the stored multipliers certify {bound}, not the reported {-outcome.value}"
        return None

    def resources(self, state: tuple) -> Resources:
        f = self.formulation(state)
        largest = max(sum(s.sizes) for s in segments(self.network, f["cuts"], f["encoding"]))
        # cvxpy holds the LMI's coefficients (rank-one per multiplier) and the solver its cone: ~100 doubles per entry
        return Resources(cpus=1, memory_gb=round(max(0.5, 100 * 8 * largest ** 2 / 1e9), 2))

    def features(self) -> tuple[Feature, ...]:
        head = (Feature("encoding", "categorical", choices=ENCODINGS),) if self.grouped else ()
        cuts = tuple(Feature(f"cut{c}", "integer", 0, 1) for c in range(1, self.network.depth))
        return head + cuts + (
            Feature("structure", "categorical", choices=STRUCTURES),
            Feature("decomposition", "categorical", choices=DECOMPOSITIONS),
            Feature("solver", "categorical", choices=SOLVERS),
            Feature("log10_tolerance", "numeric", math.log10(TOLERANCES[-1]), math.log10(TOLERANCES[0])),
        )

    def encode(self, state: tuple) -> list[float]:
        out = []
        for slot, value in zip(self.slots, state):
            if slot == "encoding":
                out.append(ENCODINGS.index(value))
            elif slot.startswith("cut"):
                out.append(int(value))
            elif slot == "tolerance":
                out.append(math.log10(value))
            else:
                out.append({"structure": STRUCTURES, "decomposition": DECOMPOSITIONS, "solver": SOLVERS}[slot].index(value))
        return out

    def describe_state(self, state: tuple) -> str:
        if len(state) < len(self.slots):
            return ", ".join(f"{s}={v}" for s, v in zip(self.slots, state)) or "(empty)"
        f = self.formulation(state)
        return (f"{f['formulation']}, cuts={list(f['cuts'])}, {'chordal' if f['chordal'] else 'monolithic'}, "
                f"{f['solver']} tol={f['tolerance']:g}" + (f", {f['encoding']}" if self.grouped else ""))
