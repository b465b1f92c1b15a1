"""The constants of the small-gain certificate on a region: curvatures mu_i and couplings L_ij.

For blocks b_1..b_N of the coordinates and the Jacobian J(z) of the field on a region R:

* mu_i <= lambda_min((J_ii + J_ii^T)/2) on R: block i's own curvature;
* L_ij >= ||J_ij||_2 on R for i != j: how strongly block j moves block i's gradient;
* L_ii >= ||J_ii||_2 on R: needed for the Lipschitz constant of the field, hence the step sizes.

Exact when the Jacobian is constant (quadratic games in the Euclidean geometry). Otherwise they are
estimated: the Jacobian is evaluated by autograd (``torch.func``) at the region's centre and at
scrambled Sobol points of the box, the extreme values are taken, and a stated safety margin is
applied (mu_i shrunk by ``safety * |mu_i|``, L_ij inflated by the factor ``1 + safety``). An estimate
is not a proof: the method, sample count and safety are recorded in the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from games.small_gain_nash.geometry import Chart

ESTIMATORS = ("exact", "sampled")


@dataclass(frozen=True)
class Region:
    """The box |z_k - centre_k| <= radius in the chart's coordinates."""

    centre: tuple[float, ...]
    radius: float

    def __post_init__(self) -> None:
        if not self.radius > 0:
            raise ValueError(f"a region needs a positive radius, got {self.radius}")

    @classmethod
    def around(cls, chart: Chart, point: torch.Tensor | np.ndarray, radius: float) -> Region:
        """The box of half-width ``radius`` (chart units) around a point given in the players' own coordinates."""
        return cls(tuple(float(v) for v in chart.from_primal(torch.as_tensor(point, dtype=torch.float64))), float(radius))

    def points(self, n: int, seed: int = 0) -> torch.Tensor:
        """The centre followed by n - 1 scrambled Sobol points of the box."""
        c = torch.tensor(self.centre, dtype=torch.float64)
        if n <= 1:
            return c[None]
        sobol = torch.quasirandom.SobolEngine(len(self.centre), scramble=True, seed=seed)
        u = sobol.draw(n - 1, dtype=torch.float64)
        return torch.cat([c[None], c + self.radius * (2 * u - 1)])


@dataclass(frozen=True)
class Constants:
    """mu (N,), L (N x N, own-block norms on the diagonal) and how they were obtained."""

    mu: np.ndarray
    L: np.ndarray
    method: str
    samples: int = 0
    safety: float = 0.0
    euclidean_modulus: float = float("nan")  # min over the region of lambda_min of the symmetrised full Jacobian
    jacobian: np.ndarray | None = None  # the constant Jacobian, when exact

    @property
    def cross(self) -> np.ndarray:
        return self.L - np.diag(np.diag(self.L))

    def describe(self) -> str:
        if self.method == "exact":
            return "exact (constant Jacobian)"
        return f"sampled: Jacobian at {self.samples} points (centre + Sobol), safety {self.safety:g}"

    def to_dict(self) -> dict:
        return {"mu": self.mu.tolist(), "L": self.L.tolist(), "method": self.method, "samples": self.samples,
                "safety": self.safety, "euclidean_modulus": self.euclidean_modulus}


def block_statistics(J: torch.Tensor, blocks: tuple[tuple[int, ...], ...]) -> tuple[np.ndarray, np.ndarray, float]:
    """Per Jacobian in the batch: worst mu_i, largest ||J_ij||, and the worst full symmetrised eigenvalue."""
    n = len(blocks)
    mu, L = np.empty(n), np.empty((n, n))
    for i, bi in enumerate(blocks):
        Jii = J[:, list(bi)][:, :, list(bi)]
        mu[i] = torch.linalg.eigvalsh((Jii + Jii.transpose(1, 2)) / 2)[:, 0].min()
        for j, bj in enumerate(blocks):
            L[i, j] = torch.linalg.matrix_norm(J[:, list(bi)][:, :, list(bj)], ord=2).max()
    modulus = float(torch.linalg.eigvalsh((J + J.transpose(1, 2)) / 2)[:, 0].min())
    return mu, L, modulus


def estimate_constants(chart: Chart, region: Region, blocks: tuple[tuple[int, ...], ...], method: str = "auto",
                       samples: int = 256, safety: float = 0.1, seed: int = 0) -> Constants:
    """The certificate's constants on ``region``; ``auto`` is exact when possible, sampled otherwise."""
    if method not in (*ESTIMATORS, "auto"):
        raise ValueError(f"unknown constant estimator {method!r}; choose auto, {', '.join(ESTIMATORS)}")
    if len(region.centre) != chart.dim:
        raise ValueError(f"the region's centre has {len(region.centre)} coordinates; this game has {chart.dim} "
                         f"in the {chart.geometry} geometry")
    exact = chart.exact_jacobian()
    if method == "exact" and exact is None:
        raise ValueError("exact constants need a constant Jacobian (a quadratic game in the euclidean geometry); "
                         "use method='sampled'")
    if method in ("exact", "auto") and exact is not None:
        mu, L, modulus = block_statistics(torch.as_tensor(exact)[None], blocks)
        return Constants(mu, L, "exact", euclidean_modulus=modulus, jacobian=exact)
    if samples < 1 or not 0 <= safety < 1:
        raise ValueError(f"sampling needs samples >= 1 and 0 <= safety < 1; got {samples} and {safety}")
    z = region.points(samples, seed)
    J = chart.jacobians(z)
    bad = ~(torch.isfinite(J).all(dim=(1, 2)) & torch.isfinite(torch.func.vmap(chart.field)(z)).all(dim=1))
    if bool(bad.any()):
        where = chart.to_primal(z[bad][0]).tolist()
        raise ValueError(f"the pseudo-gradient or its Jacobian is not finite at {where} in the region: the losses are "
                         "not defined on the whole box; use a smaller region (or the entropic geometry for "
                         "simplex players)")
    mu, L, modulus = block_statistics(J, blocks)
    return Constants(mu - safety * np.abs(mu), L * (1 + safety), "sampled", samples, safety, modulus)
