"""Features: where player I may point player II. A feature is a set of pixels with a probability for each.

* ``sift`` (black-box, [WHK18] Sec. 3): SIFT keypoints of the grey image (OpenCV) become a Gaussian
  saliency mixture: one component per keypoint, centred on it, its width from the keypoint's size
  and its weight from the keypoint's response. The mixture's support is the whole image, so the
  image is partitioned: a keypoint's feature holds the pixels its component is most responsible
  for (at most ``pixels``, the likeliest), and player II's prior in it is half the Gaussian, half
  uniform (``SALIENCY_FLOOR``): a saliency prior, not a mask. Images smaller than ``SIFT_SIDE`` are enlarged first
  (as both papers do for MNIST), and keypoints are mapped back. When SIFT finds fewer than
  ``min_keypoints``, an even ``grid`` of cells is used instead (and says so).
* ``saliency`` (grey-box, [WWRHK20] Sec. 6): each pixel's saliency is the largest drop of the true
  class's probability under a single +-tau manipulation of it (2 H W counted queries); pixels are
  ranked by it and cut into ``count`` features of equal size.
* ``grid``: an even partition into cells, all equally likely (a baseline and the fallback).

Pixels are flat indices into the H x W grid (a manipulation changes every channel of a pixel).

[WHK18] Wicker, Huang, Kwiatkowska, "Feature-Guided Black-Box Safety Testing of Deep Neural
        Networks", TACAS 2018 (arXiv 1710.07859).
[WWRHK20] Wu, Wicker, Ruan, Huang, Kwiatkowska, "A game-based approximate verification of deep
        neural networks with provable guarantees", TCS 2020 (arXiv 1807.03571).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from discover.errors import ParameterError

SIFT_SIDE = 128  # images with a shorter side are enlarged to about this before SIFT
MIN_SIGMA = 0.75  # pixels: a Gaussian narrower than this would cover one pixel only
# share of player II's prior in a SIFT feature spread evenly over its pixels: pixels far from every
# keypoint (an MLP's background, say) stay reachable, the Gaussian still ranks them
SALIENCY_FLOOR = 0.5
KINDS = ("sift", "saliency", "grid")


@dataclass(frozen=True)
class Feature:
    """A feature: its pixels (flat H x W indices, most likely first), their probabilities under it, its
    own probability for player I, and (for keypoints) the Gaussian's centre (row, col) and width."""

    pixels: tuple[int, ...]
    probabilities: tuple[float, ...]
    weight: float
    center: tuple[float, float] | None = None
    sigma: float | None = None


@dataclass(frozen=True)
class Features:
    """The features of one image and how they were found (``kind`` is ``grid`` after a SIFT fallback)."""

    features: tuple[Feature, ...]
    kind: str
    shape: tuple[int, int]
    note: str = ""
    queries: int = 0

    def saliency(self) -> np.ndarray:
        """The saliency distribution over pixels (H, W), summing to one: the mixture of the features."""
        total = np.zeros(self.shape[0] * self.shape[1])
        for f in self.features:
            total[list(f.pixels)] += f.weight * np.asarray(f.probabilities)
        return (total / total.sum()).reshape(self.shape)


def grey_uint8(image: np.ndarray) -> np.ndarray:
    """CHW in [0, 1] -> HW uint8 (channel mean)."""
    return np.round(image.mean(axis=0) * 255).astype(np.uint8)


def _keypoint_partition(centers: list[tuple[float, float]], sigmas: list[float], weights: list[float],
                        shape: tuple[int, int], pixels: int) -> list[Feature]:
    """One feature per keypoint: the pixels its Gaussian is most responsible for in the mixture (every
    pixel belongs to one keypoint), the ``pixels`` most likely of them kept, with probabilities
    (1 - SALIENCY_FLOOR) * density + SALIENCY_FLOOR * uniform over them."""
    rows, cols = np.mgrid[0:shape[0], 0:shape[1]]
    density = np.stack([np.exp(-((rows - c[0]) ** 2 + (cols - c[1]) ** 2) / (2 * s**2)).ravel()
                        for c, s in zip(centers, sigmas)])  # (keypoints, H W), each peaking at 1
    mixture = np.asarray(weights)[:, None] * density / density.sum(axis=1, keepdims=True)
    owner = np.argmax(mixture, axis=0)
    features = []
    for k, (center, sigma, weight) in enumerate(zip(centers, sigmas, weights)):
        mine = np.flatnonzero(owner == k)
        if not len(mine):
            continue
        mine = mine[np.argsort(-density[k, mine], kind="stable")][:pixels]
        mass = density[k, mine] / density[k, mine].sum()
        mass = (1 - SALIENCY_FLOOR) * mass + SALIENCY_FLOOR / len(mine)
        features.append(Feature(tuple(int(p) for p in mine), tuple(float(m) for m in mass), weight, center, sigma))
    total = sum(f.weight for f in features)
    return [Feature(f.pixels, f.probabilities, f.weight / total, f.center, f.sigma) for f in features]


def sift_features(image: np.ndarray, count: int = 6, pixels: int = 8, min_keypoints: int = 2) -> Features:
    """The ``count`` strongest SIFT keypoints as Gaussian features of up to ``pixels`` pixels each (grid fallback)."""
    shape = image.shape[1:]
    scale = max(1, math.ceil(SIFT_SIDE / min(shape)))
    grey = grey_uint8(image)
    big = cv2.resize(grey, (shape[1] * scale, shape[0] * scale), interpolation=cv2.INTER_CUBIC) if scale > 1 else grey
    keypoints = cv2.SIFT_create().detect(big, None)
    # Keypoints at one place with several orientations are one feature; strongest first, ties by position.
    seen: dict[tuple[int, int], cv2.KeyPoint] = {}
    for kp in sorted(keypoints, key=lambda k: (-k.response, k.pt[1], k.pt[0], -k.size)):
        # OpenCV's pt is (x, y) in the enlarged image's pixel-centre coordinates
        center = ((kp.pt[1] + 0.5) / scale - 0.5, (kp.pt[0] + 0.5) / scale - 0.5)
        seen.setdefault((round(center[0]), round(center[1])), kp)
    chosen = list(seen.items())[:count]
    if len(chosen) < min_keypoints:
        grid = grid_features(shape, count, pixels)
        return Features(grid.features, "grid", shape, f"SIFT found {len(seen)} keypoint location(s) "
                                                       f"(< {min_keypoints}): grid fallback")
    total = sum(kp.response for _, kp in chosen) or 1.0
    centers = [((kp.pt[1] + 0.5) / scale - 0.5, (kp.pt[0] + 0.5) / scale - 0.5) for _, kp in chosen]
    features = _keypoint_partition(centers, [max(kp.size / (2 * scale), MIN_SIGMA) for _, kp in chosen],
                                   [kp.response / total for _, kp in chosen], shape, pixels)
    note = f"{len(features)} of {len(seen)} SIFT keypoint locations (x{scale})"
    return Features(tuple(features), "sift", shape, note)


def grid_features(shape: tuple[int, int], count: int = 6, pixels: int = 8) -> Features:
    """About ``count`` equal cells (a near-square grid); each cell's ``pixels`` pixels nearest its centre."""
    rows = max(1, round(math.sqrt(count)))
    cols = max(1, math.ceil(count / rows))
    features = []
    for r in range(rows):
        for c in range(cols):
            r0, r1 = r * shape[0] // rows, (r + 1) * shape[0] // rows
            c0, c1 = c * shape[1] // cols, (c + 1) * shape[1] // cols
            center = ((r0 + r1 - 1) / 2, (c0 + c1 - 1) / 2)
            cell = [(abs(i - center[0]) + abs(j - center[1]), i * shape[1] + j)
                    for i in range(r0, r1) for j in range(c0, c1)]
            chosen = [p for _, p in sorted(cell)[:pixels]]
            if chosen:
                features.append(Feature(tuple(chosen), (1 / len(chosen),) * len(chosen), 1.0, center))
    w = 1 / len(features)
    return Features(tuple(Feature(f.pixels, f.probabilities, w, f.center) for f in features), "grid", shape,
                    f"{rows}x{cols} grid")


def saliency_features(image: np.ndarray, label: int, query, tau: float, count: int = 6,
                      pixels: int = 8) -> Features:
    """DeepGame's grey-box partition: pixels ranked by the largest drop of P(label) under one +-tau
    manipulation (``query``: (N, C, H, W) -> (N, K) probabilities), cut into ``count`` features of
    ``pixels`` pixels (the most salient ``count * pixels`` pixels; the rest are never manipulated)."""
    c, h, w = image.shape
    n = h * w
    batch = np.repeat(image[None], 2 * n, axis=0).reshape(2 * n, c, n)
    idx = np.arange(n)
    batch[idx, :, idx] = np.clip(batch[idx, :, idx] + tau, 0, 1)
    batch[n + idx, :, idx] = np.clip(batch[n + idx, :, idx] - tau, 0, 1)
    base = query(image[None])[0, label]
    probs = query(batch.reshape(2 * n, c, h, w))[:, label]
    drop = np.maximum(base - probs[:n], base - probs[n:])
    order = np.argsort(-drop, kind="stable")
    count = min(count, n // pixels) or 1
    features = []
    for k in range(count):
        part = order[k * pixels:(k + 1) * pixels]
        mass = np.maximum(drop[part], 0) + 1e-12
        features.append(Feature(tuple(int(p) for p in part), tuple(float(m) for m in mass / mass.sum()),
                                float(mass.sum())))
    total = sum(f.weight for f in features)
    features = [Feature(f.pixels, f.probabilities, f.weight / total) for f in features]
    return Features(tuple(features), "saliency", (h, w), f"{count} saliency partitions", queries=2 * n + 1)


def extract(kind: str, image: np.ndarray, *, count: int = 6, pixels: int = 8, label: int | None = None,
            query=None, tau: float = 0.5) -> Features:
    """Features of ``kind`` (one of ``KINDS``) for a CHW image in [0, 1]."""
    if kind == "sift":
        return sift_features(image, count, pixels)
    if kind == "grid":
        return grid_features(image.shape[1:], count, pixels)
    if kind == "saliency":
        if query is None or label is None:
            raise ParameterError("saliency features need the black box and the label")
        return saliency_features(image, label, query, tau, count, pixels)
    raise ParameterError(f"features must be one of {', '.join(KINDS)}, got {kind!r}")
