"""From a game's declared features to model inputs.

A game's ``encode(state)`` gives one number per :class:`~discover.game.Feature`: numeric and integer
slots as values in their declared bounds, categorical slots as the index of the choice. Numeric and
integer slots are scaled to the unit cube by BoTorch's ``Normalize`` input transform inside the
model; categorical slots stay integer-valued for the mixed-input GP's categorical kernel.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import torch
from botorch.models.transforms.input import Normalize

from discover.errors import SettingsError
from discover.game import Feature, Game

DTYPE = torch.double


@dataclass(frozen=True)
class Space:
    features: tuple[Feature, ...]

    @classmethod
    def of(cls, game: Game) -> Space:
        features = tuple(game.features())
        if not features:
            raise SettingsError(
                f"game {game.name!r} declares no features(); a surrogate needs features() and encode(state)"
            )
        return cls(features)

    @property
    def dim(self) -> int:
        return len(self.features)

    @property
    def cat_dims(self) -> list[int]:
        return [i for i, f in enumerate(self.features) if f.kind == "categorical"]

    @property
    def ord_dims(self) -> list[int]:
        """Numeric and integer slots (modelled with a continuous kernel)."""
        return [i for i, f in enumerate(self.features) if f.kind != "categorical"]

    @property
    def bounds(self) -> torch.Tensor:
        """2 x d: declared bounds; categorical slots span their choice indices."""
        low = [0.0 if f.kind == "categorical" else f.low for f in self.features]
        high = [max(len(f.choices) - 1, 1) if f.kind == "categorical" else f.high for f in self.features]
        return torch.tensor([low, high], dtype=DTYPE)

    def input_transform(self) -> Normalize | None:
        ords = self.ord_dims
        if not ords:
            return None
        return Normalize(d=self.dim, indices=ords, bounds=self.bounds[:, ords])

    def tensor(self, rows: Sequence[Sequence[float]]) -> torch.Tensor:
        X = torch.tensor([list(map(float, r)) for r in rows], dtype=DTYPE).reshape(-1, self.dim)
        if not torch.isfinite(X).all():
            raise ValueError("encode() produced a non-finite value")
        return X
