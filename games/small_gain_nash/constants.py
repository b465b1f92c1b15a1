"""The constants of the small-gain certificate on a region: curvatures mu_i and couplings L_ij.

For blocks b_1..b_N of the coordinates and the Jacobian J(z) of the field on a region R:

* mu_i <= lambda_min((J_ii + J_ii^T)/2) on R: block i's own curvature;
* L_ij >= ||J_ij||_2 on R for i != j: how strongly block j moves block i's gradient;
* L_ii >= ||J_ii||_2 on R: needed for the Lipschitz constant of the field, hence the step sizes.

Three ways, two of them proofs:

* ``exact``: the Jacobian is constant (quadratic games in the Euclidean geometry); its eigenvalues and
  norms are proven to the last bit by exact rational checks (:mod:`.rational`).
* ``interval``: branch and bound over interval enclosures of the Jacobian (:mod:`.bounds`), for any
  game whose losses use the supported torch operations (:mod:`.enclosure`).
* ``sampled``: the Jacobian by autograd at the region's centre and scrambled Sobol points, extremes
  taken and a safety margin applied (mu_i shrunk by ``safety * |mu_i|``, L_ij inflated by ``1 + safety``).
  This is an estimate, never a proof: a certificate built on it is labelled ``estimated``.

``auto`` takes the first of these that applies, and records why it fell back to sampling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from games.small_gain_nash.bounds import block_statistics, enclosed_constants
from games.small_gain_nash.enclosure import NotEnclosable, OutsideDomain
from games.small_gain_nash.geometry import Chart
from games.small_gain_nash.rational import min_eigenvalue_lower, weighted_norm_upper

METHODS = ("exact", "interval", "sampled")
RIGOROUS = ("exact", "interval")


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
    euclidean_modulus: float = float("nan")  # lambda_min of the symmetrised full Jacobian: a lower bound if rigorous
    jacobian: np.ndarray | None = None  # the constant Jacobian, when exact
    boxes: int = 0  # sub-boxes enclosed by the interval method, under its tolerance and budget:
    tol: float = 0.0
    max_boxes: int = 0
    fallback: str = ""  # why ``auto`` sampled instead of proving

    @property
    def rigorous(self) -> bool:
        """The constants are proven bounds on the region (not sampled estimates)."""
        return self.method in RIGOROUS

    @property
    def cross(self) -> np.ndarray:
        return self.L - np.diag(np.diag(self.L))

    def describe(self) -> str:
        if self.method == "exact":
            return "exact (constant Jacobian, proven)"
        if self.method == "interval":
            return f"interval enclosure of the Jacobian over {self.boxes} boxes (proven)"
        why = f"; not proven because {self.fallback}" if self.fallback else ""
        return (f"ESTIMATED, not proven: Jacobian sampled at {self.samples} points (centre + Sobol), "
                f"safety {self.safety:g}{why}")

    def to_dict(self) -> dict:
        return {"mu": self.mu.tolist(), "L": self.L.tolist(), "method": self.method, "rigorous": self.rigorous,
                "samples": self.samples, "safety": self.safety, "euclidean_modulus": self.euclidean_modulus,
                "boxes": self.boxes, "tol": self.tol, "max_boxes": self.max_boxes, "fallback": self.fallback}


def _exact(J: np.ndarray, blocks: tuple[tuple[int, ...], ...]) -> Constants:
    """Proven constants of a constant Jacobian: eigenvalues and norms checked exactly in rationals."""
    mu = np.array([min_eigenvalue_lower(J[np.ix_(b, b)]) for b in blocks])
    L = np.array([[weighted_norm_upper(J[np.ix_(bi, bj)]) for bj in blocks] for bi in blocks])
    return Constants(mu, L, "exact", euclidean_modulus=min_eigenvalue_lower(J), jacobian=J)


def _sampled(chart: Chart, region: Region, blocks: tuple[tuple[int, ...], ...], samples: int, safety: float,
             seed: int, fallback: str = "") -> Constants:
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
    return Constants(mu - safety * np.abs(mu), L * (1 + safety), "sampled", samples, safety, modulus, fallback=fallback)


def _interval(chart: Chart, region: Region, blocks: tuple[tuple[int, ...], ...], tol: float, max_boxes: int) -> Constants:
    try:
        mu, L, modulus, boxes = enclosed_constants(chart, np.asarray(region.centre), region.radius, blocks, tol, max_boxes)
    except OutsideDomain as error:
        raise ValueError(f"the losses cannot be enclosed on the region: {error}; use a smaller region (or the "
                         "entropic geometry for simplex players)") from None
    return Constants(mu, L, "interval", euclidean_modulus=modulus, boxes=boxes, tol=tol, max_boxes=max_boxes)


def region_constants(chart: Chart, region: Region, blocks: tuple[tuple[int, ...], ...], method: str = "auto",
                     samples: int = 256, safety: float = 0.1, seed: int = 0, tol: float = 0.01,
                     max_boxes: int = 4096) -> Constants:
    """The certificate's constants on ``region`` (see the module docstring for the methods).

    ``tol`` and ``max_boxes`` steer the interval method's branch and bound; ``samples``, ``safety`` and
    ``seed`` the sampled one.
    """
    if method not in (*METHODS, "auto"):
        raise ValueError(f"unknown constants method {method!r}; choose auto, {', '.join(METHODS)}")
    if len(region.centre) != chart.dim:
        raise ValueError(f"the region's centre has {len(region.centre)} coordinates; this game has {chart.dim} "
                         f"in the {chart.geometry} geometry")
    exact = chart.exact_jacobian()
    if method == "exact" and exact is None:
        raise ValueError("exact constants need a constant Jacobian (a quadratic game in the euclidean geometry); "
                         "use method='interval' or 'sampled'")
    if method in ("exact", "auto") and exact is not None:
        return _exact(exact, blocks)
    if method == "sampled":
        return _sampled(chart, region, blocks, samples, safety, seed)
    try:
        return _interval(chart, region, blocks, tol, max_boxes)
    except NotEnclosable as error:
        if method == "interval":
            raise ValueError(f"interval constants are not available for this game: {error}; "
                             "use method='sampled' (an estimate)") from None
        return _sampled(chart, region, blocks, samples, safety, seed, fallback=str(error))
