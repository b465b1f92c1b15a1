"""The convex sets players move in: boxes (the real line when unbounded), balls and simplices.

Each set projects in the Euclidean norm of its own block. Because every block of the certified
metric carries one scalar weight, the projection onto a product of these sets in the weighted metric
is the product of these blockwise projections, and so it is non-expansive in that metric.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch


class ConvexSet:
    """A closed convex set in R^dim with a Euclidean projection."""

    dim: int
    separable = False  # a product of intervals: its projection acts coordinate by coordinate

    def project(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def centre(self) -> torch.Tensor:
        """A point of the set, used as a default starting point."""
        raise NotImplementedError

    def contains(self, x: torch.Tensor, tol: float = 1e-9) -> bool:
        return bool(torch.linalg.vector_norm(self.project(x) - x) <= tol * (1 + torch.linalg.vector_norm(x)))


@dataclass(frozen=True)
class Box(ConvexSet):
    """lower <= x <= upper coordinatewise; infinite bounds give the whole space."""

    dim: int
    lower: float = -math.inf
    upper: float = math.inf
    separable = True

    def __post_init__(self) -> None:
        if self.dim < 1:
            raise ValueError(f"a box needs dimension >= 1, got {self.dim}")
        if not self.lower < self.upper:
            raise ValueError(f"a box needs lower < upper, got [{self.lower}, {self.upper}]")

    def project(self, x: torch.Tensor) -> torch.Tensor:
        return x.clamp(self.lower, self.upper)

    def centre(self) -> torch.Tensor:
        lo, hi = self.lower, self.upper
        c = 0.0 if math.isinf(lo) and math.isinf(hi) else lo if math.isinf(hi) else hi if math.isinf(lo) else (lo + hi) / 2
        c = min(max(c, lo), hi)
        return torch.full((self.dim,), float(c), dtype=torch.float64)


def Reals(dim: int) -> Box:  # noqa: N802 - reads as a set, like Box
    """The unconstrained block R^dim."""
    return Box(dim)


@dataclass(frozen=True)
class Ball(ConvexSet):
    """||x - centre|| <= radius (centre given as a tuple of floats, or the origin)."""

    dim: int
    radius: float = 1.0
    center: tuple[float, ...] | None = None

    def __post_init__(self) -> None:
        if self.radius <= 0:
            raise ValueError(f"a ball needs a positive radius, got {self.radius}")
        if self.center is not None and len(self.center) != self.dim:
            raise ValueError(f"ball centre has {len(self.center)} coordinates, expected {self.dim}")

    def centre(self) -> torch.Tensor:
        return torch.tensor(self.center or (0.0,) * self.dim, dtype=torch.float64)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        c = self.centre().to(x)
        d = x - c
        norm = torch.linalg.vector_norm(d, dim=-1, keepdim=True)
        return c + d * torch.clamp(self.radius / norm.clamp_min(1e-300), max=1.0)


@dataclass(frozen=True)
class Simplex(ConvexSet):
    """Probability vectors: x >= 0, sum x = 1 (mixed strategies)."""

    dim: int

    def __post_init__(self) -> None:
        if self.dim < 2:
            raise ValueError(f"a simplex needs at least 2 coordinates, got {self.dim}")

    def centre(self) -> torch.Tensor:
        return torch.full((self.dim,), 1.0 / self.dim, dtype=torch.float64)

    def project(self, x: torch.Tensor) -> torch.Tensor:
        # Sort-and-threshold projection (Held, Wolfe and Crowder 1974): a few lines, no library has
        # it for batched torch tensors.
        u, _ = torch.sort(x, dim=-1, descending=True)
        cssv = u.cumsum(-1) - 1
        k = torch.arange(1, self.dim + 1, dtype=x.dtype, device=x.device)
        rho = (u - cssv / k > 0).sum(-1, keepdim=True)
        theta = cssv.gather(-1, rho - 1) / rho.to(x.dtype)
        return (x - theta).clamp_min(0)
