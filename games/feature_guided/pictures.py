"""Pictures of an attack: original, adversarial, difference and saliency side by side, and a grid for a batch.

Written with OpenCV as PNGs (8 bits per channel, for looking at: the exact adversarial image is
stored beside it as .npy). Small images are enlarged with nearest-neighbour so pixels stay visible.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import cv2
import numpy as np

DISPLAY_SIDE = 128  # panels are enlarged (by an integer factor) to at least this many pixels
GAP = 4


def to_uint8(image: np.ndarray) -> np.ndarray:
    """CHW in [0, 1] -> HWC (BGR for colour) uint8."""
    hwc = np.round(np.clip(image, 0, 1) * 255).astype(np.uint8).transpose(1, 2, 0)
    return hwc[..., ::-1].copy() if hwc.shape[2] == 3 else hwc[..., 0]


def save_image(path: str | Path, image: np.ndarray) -> None:
    """A CHW image in [0, 1] as a PNG at its own size."""
    if not cv2.imwrite(str(path), to_uint8(image)):
        raise OSError(f"could not write {path}")


def _colour(panel: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(panel, cv2.COLOR_GRAY2BGR) if panel.ndim == 2 else panel


def _enlarge(panel: np.ndarray) -> np.ndarray:
    k = max(1, -(-DISPLAY_SIDE // min(panel.shape[:2])))
    return cv2.resize(panel, (panel.shape[1] * k, panel.shape[0] * k), interpolation=cv2.INTER_NEAREST)


def panels(original: np.ndarray, adversarial: np.ndarray, saliency: np.ndarray | None = None) -> np.ndarray:
    """One row (BGR uint8): original | adversarial | difference (red: brighter, blue: darker) | saliency."""
    diff = (adversarial - original).mean(axis=0)
    scale = max(float(np.abs(diff).max()), 1e-12)
    d = np.zeros((*diff.shape, 3), dtype=np.uint8)
    d[..., 2] = np.round(np.clip(diff, 0, None) / scale * 255).astype(np.uint8)
    d[..., 0] = np.round(np.clip(-diff, 0, None) / scale * 255).astype(np.uint8)
    row = [_colour(to_uint8(original)), _colour(to_uint8(adversarial)), d]
    if saliency is not None:
        s = np.round(saliency / max(float(saliency.max()), 1e-12) * 255).astype(np.uint8)
        row.append(cv2.applyColorMap(s, cv2.COLORMAP_INFERNO))
    row = [_enlarge(p) for p in row]
    gap = np.full((row[0].shape[0], GAP, 3), 255, dtype=np.uint8)
    return np.hstack([x for p in row for x in (p, gap)][:-1])


def save_panels(path: str | Path, original: np.ndarray, adversarial: np.ndarray,
                saliency: np.ndarray | None = None) -> None:
    if not cv2.imwrite(str(path), panels(original, adversarial, saliency)):
        raise OSError(f"could not write {path}")


def save_grid(path: str | Path, rows: Sequence[np.ndarray]) -> None:
    """Rows from :func:`panels` stacked (padded to the widest) into one PNG."""
    if not rows:
        raise ValueError("a grid needs at least one row")
    width = max(r.shape[1] for r in rows)
    padded = [np.pad(r, ((0, GAP), (0, width - r.shape[1]), (0, 0)), constant_values=255) for r in rows]
    if not cv2.imwrite(str(path), np.vstack(padded)):
        raise OSError(f"could not write {path}")
