"""The rules of the feature-guided game, as one validated record, and the image arithmetic they imply.

A play alternates player I's move (a feature index) and player II's (a pixel of that feature and a
step): the pixel, all its channels, moves by step * tau, clipped to [0, 1]. With ``discrete``
magnitudes the step is +-1 ([WWRHK20]'s atomic manipulation); with ``continuous`` ones it is any real
in [-1, 1] other than 0, so player II also chooses how far the pixel moves (a continuous move).
The game ends after ``rounds`` manipulations or once the distance reaches ``eta``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from discover.errors import ParameterError
from games.feature_guided.features import KINDS

NORMS = ("l0", "l1", "l2", "linf")
PLAYER2 = ("cooperative", "adversarial", "random")
MAGNITUDES = ("discrete", "continuous")
DEFAULT_ETA = {"l0": 32.0, "l1": 16.0, "l2": 4.0, "linf": 1.0}  # distance budgets when none is given
# pixels per feature: most of a 16x16 digit's SIFT partition (2-7 keypoints) is then reachable; with 16
# the SIFT game missed the background pixels an MLP is most sensitive to (benchmarks/feature_guided.py)
DEFAULT_PIXELS = 64

Move = int | tuple  # player I: a feature index; player II: (pixel, step), step +-1 or in [-1, 1]


@dataclass(frozen=True)
class Rules:
    """norm, player II's role, manipulation size tau, distance budget eta (None: ``DEFAULT_ETA``), the most
    manipulations per play, the features (their extractor, how many, and pixels per feature), and
    whether player II's steps are +-tau (``discrete``) or any size up to tau (``continuous``)."""

    norm: str = "l2"
    player2: str = "cooperative"
    tau: float = 1.0
    eta: float | None = None
    rounds: int = 40
    extractor: str = "sift"
    count: int = 6
    pixels: int = DEFAULT_PIXELS
    magnitude: str = "discrete"

    def __post_init__(self) -> None:
        if self.norm not in NORMS:
            raise ParameterError(f"norm must be one of {', '.join(NORMS)}, got {self.norm!r}")
        if self.player2 not in PLAYER2:
            raise ParameterError(f"player2 must be one of {', '.join(PLAYER2)}, got {self.player2!r}")
        if self.magnitude not in MAGNITUDES:
            raise ParameterError(f"magnitude must be one of {', '.join(MAGNITUDES)}, got {self.magnitude!r}")
        if self.magnitude == "continuous" and self.player2 == "random":
            raise ParameterError("continuous magnitudes need a cooperative or adversarial player II "
                                 "(a random one draws from a finite distribution): use magnitude=discrete")
        if self.extractor not in KINDS:
            raise ParameterError(f"extractor must be one of {', '.join(KINDS)}, got {self.extractor!r}")
        if not (isinstance(self.tau, (int, float)) and math.isfinite(self.tau) and 0 < self.tau <= 1):
            raise ParameterError(f"tau must be in (0, 1], got {self.tau!r}")
        if self.eta is None:
            object.__setattr__(self, "eta", DEFAULT_ETA[self.norm])
        if not (isinstance(self.eta, (int, float)) and math.isfinite(self.eta) and self.eta > 0):
            raise ParameterError(f"eta must be a positive number, got {self.eta!r}")
        for name in ("rounds", "count", "pixels"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ParameterError(f"{name} must be a positive integer, got {value!r}")


def distance(original: np.ndarray, image: np.ndarray, norm: str) -> float:
    """||image - original|| in ``norm`` over all C H W entries; l0 counts pixels with any channel changed."""
    d = (image.astype(np.float64) - original.astype(np.float64)).reshape(original.shape[0], -1)
    if norm == "l0":
        return float(np.count_nonzero(np.any(d != 0, axis=0)))
    if norm == "l1":
        return float(np.abs(d).sum())
    if norm == "l2":
        return float(np.sqrt((d * d).sum()))
    if norm == "linf":
        return float(np.abs(d).max()) if d.size else 0.0
    raise ParameterError(f"norm must be one of {', '.join(NORMS)}, got {norm!r}")


def manipulate(image: np.ndarray, pixel: int, step: float, tau: float) -> np.ndarray:
    """A copy of CHW ``image`` with every channel of flat pixel ``pixel`` moved by step * tau, clipped to [0, 1]."""
    out = image.copy()
    r, c = divmod(pixel, image.shape[2])
    out[:, r, c] = np.clip(out[:, r, c] + np.float32(step * tau), 0.0, 1.0)
    return out


def manipulated(original: np.ndarray, manipulations: tuple, tau: float) -> np.ndarray:
    """The image after a sequence of (pixel, step) manipulations."""
    image = original
    for pixel, step in manipulations:
        image = manipulate(image, pixel, step, tau)
    return image


class Tracker:
    """An image under manipulation and its distance from the original, updated per manipulation in
    O(C + H W) instead of recomputing everything (rollouts make thousands of manipulations); it agrees
    with :func:`distance` (tested)."""

    def __init__(self, original: np.ndarray, image: np.ndarray, norm: str, tau: float) -> None:
        c = original.shape[0]
        self.original = original.reshape(c, -1).astype(np.float64)
        self.x = image.reshape(c, -1).astype(np.float64)
        self.norm, self.tau = norm, tau
        self.contrib = self._contributions(self.x - self.original)
        self.grey = self.x.mean(axis=0)

    def _contributions(self, d: np.ndarray) -> np.ndarray:
        """Each pixel's share of the distance, from d shaped (C, pixels)."""
        if self.norm == "l0":
            return np.any(d != 0, axis=0).astype(np.float64)
        if self.norm == "l1":
            return np.abs(d).sum(axis=0)
        if self.norm == "l2":
            return (d * d).sum(axis=0)
        return np.abs(d).max(axis=0)

    def apply(self, pixel: int, step: float) -> None:
        column = np.clip(self.x[:, pixel] + np.float32(step * self.tau), 0.0, 1.0).astype(np.float32)
        self.x[:, pixel] = column
        self.grey[pixel] = float(self.x[:, pixel].mean())
        self.contrib[pixel] = self._contributions(self.x[:, pixel:pixel + 1] - self.original[:, pixel:pixel + 1])[0]

    @property
    def distance(self) -> float:
        if self.norm == "l2":
            return float(np.sqrt(self.contrib.sum()))
        return float(self.contrib.max()) if self.norm == "linf" else float(self.contrib.sum())
