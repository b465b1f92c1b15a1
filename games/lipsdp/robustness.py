"""A certified l2 robustness radius: no input perturbation smaller than it changes the predicted class.

For the network's exact (real-arithmetic) function f and a certified l2 Lipschitz bound L of f, each
logit difference f_c - f_j moves by at most sqrt(2) L ||d|| under a perturbation d (the map
z -> z_c - z_j has norm ||e_c - e_j|| = sqrt(2)), so the class c stays on top while

    ||d|| < min_j (f_c(x) - f_j(x)) / (sqrt(2) L).

The margin is read from an *enclosure* of f(x), not from a floating-point forward pass: intervals
go through the linear layers with every rounding bounded (:func:`.rigorous.product`) and through
the activations, which are all monotone (ReLU, LeakyReLU with a non-negative slope, Tanh, Sigmoid,
ELU, GroupSort), at their end points: exactly for the piecewise-linear ones, in Arb ball arithmetic
for the rest. The radius is rounded down.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import flint
import numpy as np

from games.lipsdp.network import Activation, Network
from games.lipsdp.rigorous import U, inflate, mul_up, product, sqrt_up
from games.outward import arb_bounds
from games.outward import down as _down
from games.outward import up as _up


def _arb_function(act: Activation):
    if act.name == "tanh":
        return lambda z: z.tanh()
    if act.name == "sigmoid":
        return lambda z: 1 / (1 + (-z).exp())
    if act.name == "elu":
        a = flint.arb(act.parameter)
        return lambda z: z if z > 0 else a * (z.exp() - 1)
    return None


def activation_bounds(act: Activation, lo: np.ndarray, hi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Bounds of act(x) for every lo <= x <= hi (each activation is monotone, so its end points do)."""
    if act.group_size:  # order statistics of each group: monotone in every input, and exact
        def sort(v: np.ndarray) -> np.ndarray:
            return -np.sort(-v.reshape(-1, act.group_size), axis=1).reshape(v.shape)
        return sort(lo), sort(hi)
    if act.name == "relu":
        return np.maximum(lo, 0.0), np.maximum(hi, 0.0)
    if act.name == "leaky_relu":
        s = act.parameter
        if s < 0:
            raise ValueError(f"LeakyReLU with negative slope {s} is not monotone; no enclosure is computed")
        def leaky(v: np.ndarray, outward) -> np.ndarray:
            return np.where(v >= 0, v, outward(s * v))  # s * v rounds once: one step outward covers it
        return leaky(lo, _down), leaky(hi, _up)
    f = _arb_function(act)
    if f is None:
        raise ValueError(f"no enclosure for activation {act.name!r}")
    return arb_bounds(lo, f, upper=False), arb_bounds(hi, f, upper=True)


def logit_enclosure(network: Network, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Float vectors lo <= f(x) <= hi, for the exact real-arithmetic network function f."""
    lo = hi = np.asarray(x, dtype=np.float64).reshape(-1)
    for k, (W, b) in enumerate(zip(network.weights, network.biases)):
        mid = (lo + hi) / 2
        rad = inflate(np.maximum(hi - mid, mid - lo), 2)  # covers the rounding of mid itself
        y, ry = product(W, None, mid[:, None], rad[:, None])
        y, ry = y[:, 0], ry[:, 0]
        z = y + b
        rz = inflate(ry + U * np.abs(z), 2)
        lo, hi = _down(z - rz), _up(z + rz)
        if k < len(network.activations):
            lo, hi = activation_bounds(network.activations[k], lo, hi)
    return lo, hi


@dataclass(frozen=True)
class Robustness:
    """The predicted class at x and a radius within which it provably stays the same (0: not certain)."""

    label: int
    margin: float  # a lower bound of f_c(x) - max_j f_j(x)
    radius: float


def certified_radius(network: Network, x: np.ndarray, lipschitz: float) -> Robustness:
    """The l2 radius around ``x`` (shape: the network's input width) within which the class cannot
    change, given a certified Lipschitz bound of the whole network (``lipschitz_bound(...).bound``)."""
    if not math.isfinite(lipschitz) or lipschitz <= 0:
        raise ValueError(f"a certified Lipschitz bound must be positive and finite, got {lipschitz}")
    lo, hi = logit_enclosure(network, x)
    label = int(np.argmax((lo + hi) / 2))
    others = np.delete(hi, label)
    margin = float(_down(np.array(lo[label] - others.max()))) if others.size else math.inf
    if not margin > 0:
        return Robustness(label, margin, 0.0)
    radius = float(_down(np.array(margin / mul_up(sqrt_up(2.0), lipschitz))))
    if not radius >= 0:  # NaN: the quotient overflowed (inf rounded down is inf - inf)
        radius = math.inf if margin == math.inf else float(np.finfo(float).max)  # one class only, or past every float
    return Robustness(label, margin, radius)
