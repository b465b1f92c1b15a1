"""Geometries: the coordinates the learning dynamics run in, and the blocks the metric weighs.

* ``euclidean``: coordinates are the players' own x_i; a step is x <- P_X(x - eta F(x)) (projected
  gradient play).
* ``entropic`` (mirror geometry on simplices): a simplex player is written in centred logits
  z_i in R^{m-1}, x_i = softmax(U_i z_i) with U_i an orthonormal basis of {v : sum v = 0} (Helmert's). The step
  z_i <- z_i - eta U_i^T F_i(x) is exactly entropic mirror descent (multiplicative weights),
  x_i <- x_i * exp(-eta F_i(x)) / normaliser, because U_i U_i^T only removes the constant part of the
  logits, which softmax ignores. The dynamics are unconstrained in z, so no projection is needed, and
  the small-gain analysis applies verbatim to the field G_i(z) = U_i^T F_i(softmax(U z)).
  For the entropy term tau_i sum x log x the own block of the Jacobian of G is exactly tau_i I: entropy
  regularisation is curvature tau_i in this geometry. Non-simplex players stay Euclidean.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import torch
from scipy.linalg import helmert

from games.small_gain_nash.model import DifferentiableGame
from games.small_gain_nash.sets import Simplex

GEOMETRIES = ("euclidean", "entropic")
PARTITIONS = ("players", "coordinates")


class Chart:
    """Coordinates z for a game in a geometry, with the field G(z) whose Euler steps are the dynamics."""

    def __init__(self, game: DifferentiableGame, geometry: str = "euclidean") -> None:
        if geometry not in GEOMETRIES:
            raise ValueError(f"unknown geometry {geometry!r}; choose one of {', '.join(GEOMETRIES)}")
        mirrored = [geometry == "entropic" and isinstance(s, Simplex) for s in game.sets]
        if geometry == "entropic" and not any(mirrored):
            raise ValueError("the entropic geometry needs at least one player on a simplex; "
                             f"players' sets are {[type(s).__name__ for s in game.sets]}")
        self.game, self.geometry, self.mirrored = game, geometry, tuple(mirrored)
        self.bases = tuple(torch.as_tensor(helmert(s.dim).T) if mir else None for s, mir in zip(game.sets, mirrored))
        self.dims = tuple(d - 1 if mir else d for d, mir in zip(game.dims, mirrored))
        self.offsets = tuple(int(o) for o in np.cumsum((0, *self.dims)))
        self.dim = self.offsets[-1]

    def split(self, z: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return tuple(z[..., a:b] for a, b in zip(self.offsets[:-1], self.offsets[1:]))

    def to_primal(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.softmax(zi @ U.T, dim=-1) if U is not None else zi
                          for zi, U in zip(self.split(z), self.bases)], dim=-1)

    def from_primal(self, x: torch.Tensor) -> torch.Tensor:
        parts = []
        for xi, U in zip(self.game.split(torch.as_tensor(x, dtype=torch.float64)), self.bases):
            if U is not None:
                if bool((xi <= 0).any()):
                    raise ValueError("the entropic geometry needs strategies with every probability positive "
                                     f"(the logits of {xi.tolist()} are infinite)")
                xi = torch.log(xi) @ U
            parts.append(xi)
        return torch.cat(parts, dim=-1)

    def field(self, z: torch.Tensor) -> torch.Tensor:
        """G(z): the pseudo-gradient seen in these coordinates (U_i^T F_i for mirrored players)."""
        F = self.game.pseudo_gradient(self.to_primal(z))
        return torch.cat([Fi @ U if U is not None else Fi for Fi, U in zip(self.game.split(F), self.bases)], dim=-1)

    def project(self, z: torch.Tensor) -> torch.Tensor:
        return torch.cat([zi if U is not None else s.project(zi)
                          for zi, U, s in zip(self.split(z), self.bases, self.game.sets)], dim=-1)

    def jacobians(self, z: torch.Tensor) -> torch.Tensor:
        """dG/dz at a batch of points (batch x D x D)."""
        return torch.func.vmap(torch.func.jacrev(self.field))(z)

    def exact_jacobian(self) -> np.ndarray | None:
        """The constant Jacobian of G when the game's pseudo-gradient is affine and no player is mirrored."""
        if self.game.jacobian is None or any(self.mirrored):
            return None
        return self.game.jacobian

    def blocks(self, partition: str = "players") -> tuple[tuple[int, ...], ...]:
        """The coordinate indices of each block of the metric.

        ``players``: one block per player. ``coordinates``: one block per coordinate, allowed when every
        Euclidean player's set is a product of intervals (otherwise the projection would not be
        non-expansive in a metric that weighs a player's coordinates differently).
        """
        if partition not in PARTITIONS:
            raise ValueError(f"unknown partition {partition!r}; choose one of {', '.join(PARTITIONS)}")
        spans = [tuple(range(a, b)) for a, b in zip(self.offsets[:-1], self.offsets[1:])]
        if partition == "players":
            return tuple(spans)
        for name, s, U in zip(self.game.names, self.game.sets, self.bases):
            if U is None and not s.separable:
                raise ValueError(f"player {name!r} has a {type(s).__name__} set: its projection does not act "
                                 "coordinate by coordinate, so its coordinates cannot carry different weights; "
                                 "use partition='players'")
        return tuple((k,) for span in spans for k in span)

    def partitions(self) -> tuple[str, ...]:
        """The partitions that are valid and distinct for this game."""
        out = ["players"]
        if self.dim > len(self.dims):
            try:
                self.blocks("coordinates")
                out.append("coordinates")
            except ValueError:
                pass
        return tuple(out)


def charts(game: DifferentiableGame) -> dict[str, Chart]:
    """The game in every geometry that applies to it (entropic needs a simplex player)."""
    out = {}
    for geometry in GEOMETRIES:
        try:
            out[geometry] = Chart(game, geometry)
        except ValueError:
            pass
    return out


def coordinate_weights(w: Sequence[float], blocks: Sequence[Sequence[int]]) -> np.ndarray:
    """The weight of each coordinate: w_b on every coordinate of block b (W's diagonal)."""
    out = np.empty(sum(len(b) for b in blocks))
    for wb, idx in zip(w, blocks):
        out[list(idx)] = wb
    return out


def block_norms(z: torch.Tensor, w: Sequence[float], blocks: Sequence[Sequence[int]]) -> torch.Tensor:
    """||z||_w = sqrt(sum_b w_b ||z_b||^2) for a batch of vectors (last axis)."""
    return (torch.as_tensor(coordinate_weights(w, blocks), dtype=z.dtype) * z ** 2).sum(-1).sqrt()
