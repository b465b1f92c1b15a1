"""Re-derive a stored certificate from the game and accept it only if it claims no more than is proven.

Nothing stored is trusted but the choices it names (geometry, blocks, region, constants method and
its budget, weights, steps, equilibrium point): the constants are recomputed from the game's losses by
the same rigorous method, and every claimed number must be on the safe side of what those constants
prove, by a one-sided comparison with no tolerance: a margin, rate, curvature, basin or band no larger;
a Lipschitz constant, coupling, gain or contraction factor no smaller; a largest safe step at which the
factor bound is still below 1. Sampled constants are never accepted.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch

from games.small_gain_nash.certificate import (basin_radius, equilibrium_error, interior, rk4_basin_radius,
                                                weighted_lipschitz)
from games.small_gain_nash.constants import RIGOROUS, Region, region_constants
from games.small_gain_nash.geometry import Chart
from games.small_gain_nash.model import DifferentiableGame
from games.small_gain_nash.rational import fraction, margin_lower
from games.small_gain_nash.steps import StepRule, euler_q2, factor, rk4_q2
from games.small_gain_nash.weights import gain_radius, margin, timescale_band


def _step(claim: dict | None, q2, m: float, lipschitz: float, name: str) -> str | None:
    """The claimed factor at the claimed step is no better than proven, and q < 1 holds at the claimed largest step."""
    if claim is None:
        return None
    step, max_step = claim["step"], claim["max_step"]
    if not (0 < step <= max_step):
        return f"the {name} step {step} is not positive or exceeds its claimed largest step {max_step}"
    proven = factor(q2(fraction(step), fraction(m), fraction(lipschitz)))
    if not claim["factor"] >= proven:
        return f"the {name} factor {claim['factor']!r} at step {step} is better than the proven {proven!r}"
    at_max = q2(fraction(max_step), fraction(m), fraction(lipschitz))
    if at_max is None or not at_max < 1:
        return f"the {name} step {max_step} claimed safe does not contract by the proven constants"
    return None


def recheck(game: DifferentiableGame, claim: dict[str, Any]) -> str | None:
    """``None`` if every number of ``claim`` (a :meth:`Certificate.to_dict`) is proven for ``game``, else why not."""
    if not claim.get("certified"):
        return f"the certificate claims no proof (status {claim.get('status', 'unknown')!r})"
    stored = claim["constants"]
    if stored["method"] not in RIGOROUS:
        return f"the constants were obtained by {stored['method']!r}, which is an estimate, not a proof"
    chart = Chart(game, claim["geometry"])
    blocks = tuple(tuple(b) for b in claim["blocks"])
    if blocks not in [chart.blocks(p) for p in chart.partitions()]:
        return f"blocks {claim['blocks']} are not a partition this game admits"
    region = Region(tuple(claim["region"]["centre"]), claim["region"]["radius"])
    found = region_constants(chart, region, blocks, stored["method"], tol=stored.get("tol") or 0.01,
                             max_boxes=stored.get("max_boxes") or 4096)
    mu, L = found.mu, found.L
    if not np.all(np.asarray(stored["mu"]) <= mu):
        return f"claimed curvatures {stored['mu']} exceed the proven {mu.tolist()}"
    if not np.all(np.asarray(stored["L"]) >= L):
        return f"claimed couplings {stored['L']} are below the proven {L.tolist()}"
    if claim["euclidean_monotone"] and not found.euclidean_modulus > 0:
        return "Euclidean monotonicity is claimed but not proven on the region"
    if not claim["gain"] >= gain_radius(mu, L):
        return f"the claimed gain {claim['gain']!r} is below the proven {gain_radius(mu, L)!r}"
    if not claim["equal_weights_margin"] <= margin(np.ones(len(blocks)), mu, L):
        return "the claimed equal-weights margin exceeds the recomputed one"
    if claim["band"] is not None:
        band = timescale_band(mu, L) if len(blocks) == 2 else None
        if band is None or not (claim["band"][0] >= band[0] and claim["band"][1] <= band[1]):
            return f"the claimed timescale band {claim['band']} is not inside the proven {band}"
    w = np.asarray(claim["weights"], dtype=float)
    if w.shape != (len(blocks),) or not np.all(np.isfinite(w)) or np.any(w <= 0):
        return f"weights {claim['weights']} are not one positive number per block"
    m = margin_lower(w, mu, L) if margin(w, mu, L) > 0 else -math.inf
    if not (0 < claim["margin"] <= m and claim["rate"] <= m):
        return f"the claimed margin {claim['margin']!r} (rate {claim['rate']!r}) is not at or below the proven {m!r}"
    lipschitz = weighted_lipschitz(w, found, blocks)
    if not claim["lipschitz"] >= lipschitz:
        return f"the claimed Lipschitz constant {claim['lipschitz']!r} is below the proven {lipschitz!r}"
    problem = _step(claim["euler"], euler_q2, m, lipschitz, "Euler") or _step(claim["rk4"], rk4_q2, m, lipschitz, "RK4")
    if problem:
        return problem
    if claim["basin"] is not None or claim["rk4_basin"] is not None or claim["rk4"] is not None:
        # an RK4 step is certified only at a proven-interior equilibrium (projected RK4 need not fix a
        # boundary one), so it needs the equilibrium and its enclosure as much as a basin does
        if claim["equilibrium"] is None or claim["euler"] is None:
            return "a basin or an RK4 step is claimed without an equilibrium and an Euler step"
        z = torch.as_tensor(claim["equilibrium"], dtype=torch.float64)
        rule = StepRule(claim["euler"]["step"], factor(euler_q2(fraction(claim["euler"]["step"]), fraction(m),
                                                                  fraction(lipschitz))), claim["euler"]["max_step"])
        error = equilibrium_error(chart, z, rule, w, blocks)
        if math.isinf(error):
            return "a basin is claimed but the equilibrium's location cannot be enclosed"
        basin = basin_radius(region, z, w, blocks, error)
        if claim["basin"] is not None and not claim["basin"] <= basin:
            return f"the claimed basin {claim['basin']!r} exceeds the proven {basin!r}"
        if claim["rk4"] is not None and not interior(chart, z, error, w, blocks):
            return "an RK4 step is claimed but the equilibrium is not proven interior (the field need not vanish)"
        if claim["rk4"] is not None and not basin > 0:
            return "an RK4 step is claimed without a basin (its stages need not stay in the region)"
        if claim["rk4_basin"] is not None:
            if claim["rk4"] is None:
                return "an RK4 basin is claimed without an RK4 step"
            rk4 = StepRule(claim["rk4"]["step"], claim["rk4"]["factor"], claim["rk4"]["max_step"])
            if not claim["rk4_basin"] <= rk4_basin_radius(basin, rk4, lipschitz):
                return f"the claimed RK4 basin {claim['rk4_basin']!r} exceeds the proven one"
    return None
