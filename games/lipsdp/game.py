"""The LipSDP game: assemble a formulation layer by layer, solve it, verify it.

Moves, in order: the MaxMin/GroupSort encoding (only for networks that have such layers), then for
each boundary between hidden layers whether to cut the network there (a product of segment bounds is
still a bound), the multiplier structure (layer or neuron), monolithic or chordal LMIs, the solver
and its tolerance. Value: minus the certified bound (LipSDP's verified bound, or the naive product of norms where
that is smaller, with ``method`` saying which); cost: seconds, which the engine's cost model learns.
A formulation whose multipliers do not verify is recorded as failed with the reason, and so is a
"bound" below the sampled lower bound (that would be a bug).
"""

from __future__ import annotations

import time
from functools import cached_property

import numpy as np
from scipy.stats import ortho_group

from discover.game import Param
from discover.types import EvalContext, Objective, Outcome, Status
from discover.decimals import decimal_up
from games.lipsdp.api import best_bound, lipschitz_bound
from games.lipsdp.bounds import lower_bound, naive_bound
from games.lipsdp.formulation import ENCODINGS, STRUCTURES, multipliers, segments
from games.lipsdp.network import ACTIVATION_NAMES, Network, load_network, random_network
from games.lipsdp.rigorous import mul_up
from games.lipsdp.solve import SOLVERS
from games.lipsdp.verify import certified_bound
from games.slots import Slot, SlotGame

TOLERANCES = (1e-4, 1e-6, 1e-8)
# The sampled lower bound divides float differences of outputs, so it carries ~1e-12 relative rounding:
# a sanity check on certified bounds (a bound far below it is a bug), not a proof of anything.
LOWER_SLACK = 1e-9
DECOMPOSITIONS = ("monolithic", "chordal")
SOLVER_SHARE = 0.5  # of the evaluation's time limit, per solver call; verification and fallbacks use the rest


def at_least(stored: object, recomputed: float) -> bool:
    """A stored number that is a real number at or above the recomputed one (False for None, NaN, text)."""
    return isinstance(stored, (int, float)) and not isinstance(stored, bool) and stored >= recomputed


def demo_network(name: str) -> Network:
    """Built-in networks: ``demo`` (random ReLU 64-32-32-32-10), ``demo-maxmin`` (orthogonal MaxMin, 16 wide)."""
    if name == "demo":
        return random_network([64, 32, 32, 32, 10], "relu", seed=0)
    if name == "demo-maxmin":
        weights = tuple(ortho_group.rvs(16, random_state=k) for k in range(4))
        return Network(weights, tuple(np.zeros(16) for _ in weights), (ACTIVATION_NAMES["maxmin"],) * 3)
    return load_network(name)


class LipSDPGame(SlotGame):
    """Certified l2 Lipschitz bounds of a network: search over LipSDP formulations."""

    name = "lipsdp"
    quantity = Objective("Lipschitz bound", "min")
    expensive = True
    default_timeout = 600.0  # each solver call gets half of it (the iterate reached is verified)
    params = (
        Param("model", "path", "demo", "a torch.save file of an nn.Sequential, an .npz of weights, or a built-in "
                                       "network: demo (ReLU), demo-maxmin"),
    )

    def __init__(self, model: str = "demo") -> None:
        self.model = model
        self.network = demo_network(model)
        self.grouped = any(a.group_size for a in self.network.activations)
        self.slots = ((Slot("encoding", ENCODINGS),) if self.grouped else ()) + tuple(
            Slot(f"cut{c}", (False, True)) for c in range(1, self.network.depth)) + (
            Slot("structure", STRUCTURES), Slot("decomposition", DECOMPOSITIONS), Slot("solver", SOLVERS),
            Slot("tolerance", TOLERANCES, log=True))

    def __reduce__(self) -> tuple:
        return (type(self), (self.model,))

    @cached_property
    def lower(self) -> float:
        return lower_bound(self.network)

    def formulation(self, state: tuple) -> dict:
        named = dict(zip((slot.name for slot in self.slots), state))
        cuts = tuple(c for c in range(1, self.network.depth) if named[f"cut{c}"])
        return {"formulation": named["structure"], "cuts": cuts, "chordal": named["decomposition"] == "chordal",
                "encoding": named.get("encoding", ENCODINGS[0]), "solver": named["solver"],
                "tolerance": named["tolerance"]}

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        start = time.perf_counter()
        result = lipschitz_bound(self.network, lower=False, time_limit=context.time_for(SOLVER_SHARE),
                                 **self.formulation(state))
        cost = time.perf_counter() - start
        artifacts = {**result.certificate(), "lower": self.lower, "summary": result.summary()}
        if not result.verified:
            return Outcome.failure(Status.FAILED, result.reason, cost, artifacts)
        if result.bound < self.lower * (1 - LOWER_SLACK):
            return Outcome.failure(Status.FAILED, f"verified bound {result.bound} is below the lower bound "
                                                  f"{self.lower}: a bug", cost, artifacts)
        return Outcome.ok(-result.bound, artifacts, cost)

    def verify(self, state: tuple, outcome: Outcome) -> str | None:
        """Recompute every certified number from the stored multipliers and the network; every stored claim
        must be at or above its rigorous recomputation (one-sided), and the method must be the one that wins."""
        f = self.formulation(state)
        art = outcome.artifacts
        if outcome.value is None:
            return "the outcome has no value to verify"
        stored_f = art.get("formulation")
        if not isinstance(stored_f, dict):
            return "the outcome stores no formulation"
        for key, value in (("structure", f["formulation"]), ("cuts", list(f["cuts"])), ("chordal", f["chordal"]),
                           ("encoding", f["encoding"]), ("solver", f["solver"]), ("tolerance", f["tolerance"])):
            if stored_f.get(key) != value:
                return f"the stored formulation has {key}={stored_f.get(key)!r}, the state {value!r}"
        parts = segments(self.network, f["cuts"], f["encoding"])
        stored = art.get("segments")
        if not isinstance(stored, list) or not all(isinstance(record, dict) for record in stored):
            return "the stored segments are not a list of records"
        if len(stored) != len(parts):
            return f"{len(stored)} stored segments for a formulation with {len(parts)}"
        bounds = []
        for segment, record in zip(parts, stored):
            if list(record.get("layers", ())) != list(segment.layers):
                return f"a stored segment covers hidden layers {record.get('layers')}, the formulation's {list(segment.layers)}"
            mults = [multipliers(c, f["formulation"]) for c in segment.channels]
            try:
                if len(record["multipliers"]) != len(mults):
                    raise ValueError("one multiplier array per channel")
                thetas = [np.asarray(t, dtype=float).reshape(m.size) for t, m in zip(record["multipliers"], mults)]
            except (KeyError, TypeError, ValueError):
                return f"hidden layers {list(segment.layers)}: the stored multipliers do not fit the formulation"
            check = certified_bound(segment, thetas, mults)
            if check.bound is None:
                return f"hidden layers {list(segment.layers)}: {check.reason}"
            if not at_least(record.get("bound"), check.bound):
                return (f"hidden layers {list(segment.layers)}: the stored bound {record.get('bound')!r} is below the "
                        f"{check.bound!r} its multipliers certify")
            bounds.append(check.bound)
        lipsdp, naive = mul_up(*bounds), naive_bound(self.network)
        best, method = best_bound(lipsdp, naive)
        claim = -outcome.value
        for key, recomputed in (("lipsdp", lipsdp), ("naive", naive), ("bound", best)):
            if not at_least(art.get(key), recomputed):
                return f"the stored {key} {art.get(key)!r} is below the recomputed {recomputed!r}"
        if art.get("bound") != claim:
            return f"the stored bound {art.get('bound')!r} is not the reported value {claim!r}"
        if not str(art.get("summary", "")).startswith(f"Lipschitz <= {decimal_up(claim)} ("):
            return f"the stored summary does not state the bound {decimal_up(claim)}"
        if art.get("method") != method:
            return f"the stored method is {art.get('method')!r}, but the smaller recomputed bound is {method}'s"
        lower = art.get("lower")
        if isinstance(lower, (int, float)) and not at_least(claim, lower * (1 - LOWER_SLACK)):
            return f"the claimed bound {claim!r} is below the stored lower bound {lower!r}"
        return None

    def describe_state(self, state: tuple) -> str:
        if len(state) < len(self.slots):
            return super().describe_state(state)
        f = self.formulation(state)
        return (f"{f['formulation']}, cuts={list(f['cuts'])}, {'chordal' if f['chordal'] else 'monolithic'}, "
                f"{f['solver']} tol={f['tolerance']:g}" + (f", {f['encoding']}" if self.grouped else ""))
