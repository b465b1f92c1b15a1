"""Run the certified dynamics and measure them in the certified metric.

The check a certificate invites: start anywhere in its basin, step at its step size, and the
distance to the equilibrium in the metric ||.||_w must shrink by at least the certified factor every
step. Starts are drawn uniformly in the w-ball of the basin radius (projected onto the players' sets,
which keeps them in the ball because the projection is non-expansive and fixes the equilibrium).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from games.small_gain_nash.certificate import Certificate
from games.small_gain_nash.geometry import Chart, block_norms
from games.small_gain_nash.model import DifferentiableGame

METHODS = ("euler", "rk4")


@dataclass(frozen=True)
class Simulation:
    """Distances to the equilibrium (starts x steps+1) in the certified metric, and the worst per-step ratio."""

    method: str
    step: float
    certified_factor: float
    distances: np.ndarray
    worst_ratio: float

    @property
    def contracts(self) -> bool:
        """Every step shrank the distance by at least the certified factor (up to rounding)."""
        return self.worst_ratio <= self.certified_factor * (1 + 1e-9) + 1e-12

    def summary(self) -> str:
        final = float(np.max(self.distances[:, -1]))
        return (f"{self.method} at step {self.step:.4g}: worst per-step ratio {self.worst_ratio:.6f} vs certified "
                f"{self.certified_factor:.6f}; after {self.distances.shape[1] - 1} steps the farthest of "
                f"{self.distances.shape[0]} starts is {final:.3g} from the equilibrium")


def _rk4_direction(field, z: torch.Tensor, eta: float) -> torch.Tensor:
    k1 = field(z)
    k2 = field(z - 0.5 * eta * k1)
    k3 = field(z - 0.5 * eta * k2)
    k4 = field(z - eta * k3)
    return (k1 + 2 * k2 + 2 * k3 + k4) / 6


def simulate(game: DifferentiableGame, certificate: Certificate, method: str = "euler", starts: int = 32,
             steps: int = 50, seed: int = 0) -> Simulation:
    """Projected Euler or RK4 at the certified (or, for an estimate, estimated) step from random starts in the basin."""
    if method not in METHODS:
        raise ValueError(f"unknown method {method!r}; choose one of {', '.join(METHODS)}")
    if not (certificate.certified or certificate.estimated):
        raise ValueError(f"the certificate does not certify anything: {certificate.reason}")
    rule = certificate.euler if method == "euler" else certificate.rk4
    radius = certificate.basin if method == "euler" else certificate.rk4_basin
    if rule is None or radius is None or certificate.equilibrium is None:
        raise ValueError(f"no certified {method} basin: " + ("; ".join(certificate.notes) or "no equilibrium found"))
    chart = Chart(game, certificate.geometry)
    w, blocks = certificate.weights, certificate.blocks
    star = torch.as_tensor(certificate.equilibrium, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed)
    direction = torch.randn(starts, chart.dim, generator=generator, dtype=torch.float64)
    direction = direction / block_norms(direction, w, blocks)[:, None]
    scale = radius * torch.rand(starts, 1, generator=generator, dtype=torch.float64) ** (1 / chart.dim)
    z = chart.project(star + direction * scale)
    field = torch.func.vmap(chart.field)
    distances = np.empty((starts, steps + 1))
    distances[:, 0] = block_norms(z - star, w, blocks).numpy()
    for k in range(steps):
        move = field(z) if method == "euler" else _rk4_direction(field, z, rule.step)
        z = chart.project(z - rule.step * move)
        distances[:, k + 1] = block_norms(z - star, w, blocks).numpy()
    before, after = distances[:, :-1], distances[:, 1:]
    measurable = before > 1e-12 * max(1.0, radius)  # below this the ratio is rounding noise
    worst = float(np.max(after[measurable] / before[measurable])) if measurable.any() else 0.0
    return Simulation(method, rule.step, rule.factor, distances, worst)
