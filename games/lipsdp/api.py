"""``lipschitz_bound(model)``: one formulation, solved, verified, and placed between the naive and lower bounds."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from torch import nn

from discover.decimals import decimal_up
from games.lipsdp.bounds import lower_bound as sampled_lower_bound
from games.lipsdp.bounds import naive_bound
from games.lipsdp.formulation import ENCODINGS, STRUCTURES, segments
from games.lipsdp.network import Network, load_network
from games.lipsdp.rigorous import mul_up
from games.lipsdp.solve import SOLVERS, SegmentSolve, solve_segment


@dataclass
class LipschitzResult:
    """A certified l2 Lipschitz upper bound, with context.

    ``bound`` is the smaller of two rigorous bounds, and ``method`` says which: ``lipsdp`` (the product
    of the segments' verified bounds) or ``naive`` (the product of proven spectral-norm bounds and slope
    bounds; also the answer when the formulation certifies nothing, with ``reason`` saying why).
    ``lipsdp`` is LipSDP's own verified bound (None if it certified nothing).
    """

    bound: float
    method: str
    lipsdp: float | None
    naive: float
    lower: float | None
    seconds: float
    formulation: dict
    claimed: float | None  # the product of the solvers' own values, for comparison only (not verified)
    reason: str = ""
    parts: list[SegmentSolve] = field(default_factory=list, repr=False)

    @property
    def verified(self) -> bool:
        """Whether the LipSDP formulation itself certified a bound (``bound`` is rigorous either way)."""
        return self.lipsdp is not None

    def certificate(self) -> dict:
        """JSON-ready: per segment the hidden layers it covers, its bound and its (projected) multipliers."""
        return {"formulation": self.formulation, "bound": self.bound, "method": self.method, "lipsdp": self.lipsdp,
                "naive": self.naive, "lower": self.lower,
                "segments": [{"layers": list(p.segment.layers), "bound": p.verified.bound, "claimed": p.claimed,
                              "multipliers": [t.tolist() for t in p.thetas], "attempts": p.attempts,
                              "build_seconds": round(p.build_seconds, 3), "solve_seconds": round(p.solve_seconds, 3)}
                             for p in self.parts]}

    def summary(self) -> str:
        low = f", sampled lower bound {self.lower:.6g}" if self.lower is not None else ""
        setup = (f"{self.formulation['structure']} multipliers, {len(self.parts)} segment(s), "
                 f"{'chordal' if self.formulation['chordal'] else 'monolithic'}, {self.formulation['solver']}, "
                 f"{self.seconds:.1f} s")
        if self.lipsdp is None:
            return (f"Lipschitz <= {decimal_up(self.bound)} (naive product of norms; LipSDP certified nothing: "
                    f"{self.reason}{low})")
        which = (f"LipSDP, verified; naive {decimal_up(self.naive)}" if self.method == "lipsdp" else
                 f"naive product of norms, smaller than LipSDP's verified {decimal_up(self.lipsdp)}")
        return f"Lipschitz <= {decimal_up(self.bound)} ({which}{low}); {setup}"


def lipschitz_bound(model: nn.Module | Network | str, formulation: str = "neuron", norm: str = "l2",
                    solver: str | None = None, *, cuts: tuple[int, ...] = (), chordal: bool = False,
                    encoding: str = "sum-preserving", tolerance: float = 1e-6, fallback: bool = True,
                    strictness: float | None = None, time_limit: float | None = None,
                    lower: bool = True) -> LipschitzResult:
    """A certified l2 Lipschitz bound: LipSDP's verified bound or the naive product, whichever is smaller.

    ``formulation``: ``neuron`` (LipSDP-Neuron) or ``layer`` (LipSDP-Layer). ``cuts``: hidden-layer
    indices where the network is split (the bound is the product). ``chordal``: decompose the LMI by
    cliques of consecutive layers. ``solver``: SCS (default), CLARABEL or MOSEK when installed.
    ``time_limit``: seconds per solver call (the iterate reached is verified; the bound stays sound).
    """
    if norm != "l2":
        raise ValueError(f"only the l2 norm is implemented, got {norm!r}")
    if formulation not in STRUCTURES:
        raise ValueError(f"formulation must be one of {', '.join(STRUCTURES)}, got {formulation!r}")
    if encoding not in ENCODINGS:
        raise ValueError(f"encoding must be one of {', '.join(ENCODINGS)}, got {encoding!r}")
    solver = solver or "SCS"
    if solver not in SOLVERS:
        raise ValueError(f"solver {solver!r} is not installed; available: {', '.join(SOLVERS)}")
    network = load_network(model)
    start = time.perf_counter()
    parts = [solve_segment(s, formulation, chordal, solver, tolerance, fallback, strictness, time_limit)
             for s in segments(network, tuple(cuts), encoding)]
    seconds = time.perf_counter() - start
    failed = [p for p in parts if p.verified.bound is None]
    lipsdp = None if failed else mul_up(*(p.verified.bound for p in parts))
    claimed = None if any(p.claimed is None for p in parts) else float(np.prod([p.claimed for p in parts]))
    reason = "" if not failed else f"hidden layers {list(failed[0].segment.layers)}: {failed[0].verified.reason}"
    description = {"structure": formulation, "cuts": list(cuts), "chordal": chordal, "encoding": encoding,
                   "solver": solver, "tolerance": tolerance, "time_limit": time_limit}
    naive = naive_bound(network)
    bound, method = best_bound(lipsdp, naive)
    return LipschitzResult(bound, method, lipsdp, naive, sampled_lower_bound(network) if lower else None, seconds,
                           description, claimed, reason, parts)


def best_bound(lipsdp: float | None, naive: float) -> tuple[float, str]:
    """The smaller of LipSDP's verified bound and the naive one, and which it is."""
    return (lipsdp, "lipsdp") if lipsdp is not None and lipsdp <= naive else (naive, "naive")


def lower_bound(model: nn.Module | Network | str, **options) -> float:
    """The largest slope found by sampling Jacobians and gradient ascent on input pairs (a sampled estimate, not a proof: the rounding of a saturated Tanh's or Sigmoid's derivative can lift
    it above the true constant, never above the slope bounds; see :mod:`.bounds`)."""
    return sampled_lower_bound(load_network(model), **options)


__all__ = ["LipschitzResult", "best_bound", "lipschitz_bound", "lower_bound"]
