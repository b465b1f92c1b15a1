"""Images in: scikit-learn's digits (upsampled), scikit-image's sample photographs, and readers for
users' own MNIST IDX files, CIFAR-10 binary batches and GTSRB-style class folders.

Everything is read from local files or installed packages; nothing is downloaded. Images come out as
float32 arrays shaped (N, C, H, W) in [0, 1] with integer labels shaped (N,).

Formats: MNIST IDX (LeCun et al.; magic 0x00000803 images / 0x00000801 labels, big-endian sizes);
CIFAR-10 binary (Krizhevsky 2009; records of 1 label byte + 3072 bytes R, G, B planes of 32x32);
GTSRB (Stallkamp et al. 2012; one folder per class named by its number, image files inside).
"""

from __future__ import annotations

import gzip
from pathlib import Path

import cv2
import numpy as np

from discover.errors import ParameterError

DIGITS_SIZE = 16  # the demo models' input side: 8x8 digits enlarged twice (bilinear)
DIGITS_TRAIN = 1297  # the first 1297 digits train the demo models; the last 500 are the test images
IMAGE_SUFFIXES = (".png", ".ppm", ".jpg", ".jpeg", ".bmp")


def resize(images: np.ndarray, size: int) -> np.ndarray:
    """(N, C, H, W) -> (N, C, size, size), bilinear (OpenCV), clipped to [0, 1]."""
    out = np.empty((*images.shape[:2], size, size), dtype=np.float32)
    for n, image in enumerate(images):
        for c, plane in enumerate(image):
            out[n, c] = cv2.resize(plane.astype(np.float32), (size, size), interpolation=cv2.INTER_LINEAR)
    return np.clip(out, 0.0, 1.0)


def digits(split: str = "test", size: int = DIGITS_SIZE) -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's 1797 handwritten digits (8x8, 17 grey levels) scaled to [0, 1] and enlarged to
    ``size``; ``split``: ``train`` (first 1297), ``test`` (last 500) or ``all``."""
    from sklearn.datasets import load_digits

    X, y = load_digits(return_X_y=True)
    images = resize((X / 16.0).reshape(-1, 1, 8, 8).astype(np.float32), size)
    parts = {"train": slice(0, DIGITS_TRAIN), "test": slice(DIGITS_TRAIN, None), "all": slice(None)}
    if split not in parts:
        raise ParameterError(f"digits split must be one of {', '.join(parts)}, got {split!r}")
    return images[parts[split]], y[parts[split]].astype(np.int64)


def sample_image(name: str = "camera", size: int | None = None) -> np.ndarray:
    """A scikit-image sample photograph (``camera``, ``astronaut``, ``coffee``...) as (C, H, W) in [0, 1]."""
    import skimage.data

    loader = getattr(skimage.data, name, None)
    if loader is None:
        raise ParameterError(f"scikit-image has no sample image {name!r}")
    image = np.asarray(loader(), dtype=np.float32)
    image = image / 255.0 if image.max() > 1 else image
    chw = image[None] if image.ndim == 2 else image[..., :3].transpose(2, 0, 1)
    return resize(chw[None], size)[0] if size else np.ascontiguousarray(chw)


def _open(path: Path):
    return gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")


def read_idx(path: str | Path) -> np.ndarray:
    """An MNIST IDX file (optionally gzipped) of unsigned bytes, as an integer array of its shape."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"no IDX file at {path}")
    with _open(path) as f:
        data = f.read()
    if len(data) < 4 or data[0:2] != b"\0\0" or data[2] != 0x08:
        raise ParameterError(f"{path} is not an IDX file of unsigned bytes (bad magic number)")
    dims = data[3]
    shape = tuple(int.from_bytes(data[4 + 4 * k: 8 + 4 * k], "big") for k in range(dims))
    body = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * dims)
    if body.size != int(np.prod(shape)):
        raise ParameterError(f"{path}: header says shape {shape} ({int(np.prod(shape))} bytes), file has {body.size}")
    return body.reshape(shape)


def mnist(images: str | Path, labels: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """MNIST-style IDX image and label files -> ((N, 1, H, W) in [0, 1], (N,))."""
    x, y = read_idx(images), read_idx(labels)
    if x.ndim != 3 or y.ndim != 1 or len(x) != len(y):
        raise ParameterError(f"IDX files do not match: images {x.shape}, labels {y.shape}")
    return (x[:, None] / 255.0).astype(np.float32), y.astype(np.int64)


def cifar10(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """One CIFAR-10 binary batch (``data_batch_1.bin``...) -> ((N, 3, 32, 32) in [0, 1], (N,))."""
    path = Path(path)
    if not path.is_file():
        raise ParameterError(f"no CIFAR-10 batch at {path}")
    raw = np.fromfile(path, dtype=np.uint8)
    record = 1 + 3 * 32 * 32
    if raw.size == 0 or raw.size % record:
        raise ParameterError(f"{path}: {raw.size} bytes is not a whole number of {record}-byte CIFAR-10 records")
    rows = raw.reshape(-1, record)
    return (rows[:, 1:].reshape(-1, 3, 32, 32) / 255.0).astype(np.float32), rows[:, 0].astype(np.int64)


def image_folders(root: str | Path, size: int = 32) -> tuple[np.ndarray, np.ndarray]:
    """GTSRB-style folders ``root/<class number>/<image>`` -> ((N, 3, size, size) in [0, 1], (N,))."""
    root = Path(root)
    classes = sorted((d for d in root.iterdir() if d.is_dir() and d.name.isdigit()), key=lambda d: int(d.name)) \
        if root.is_dir() else []
    if not classes:
        raise ParameterError(f"{root} has no class folders named by number (GTSRB layout)")
    images, labels = [], []
    for folder in classes:
        for file in sorted(folder.iterdir()):
            if file.suffix.lower() not in IMAGE_SUFFIXES:
                continue
            bgr = cv2.imread(str(file), cv2.IMREAD_COLOR)
            if bgr is None:
                raise ParameterError(f"{file} is not a readable image")
            rgb = cv2.resize(bgr, (size, size), interpolation=cv2.INTER_AREA)[..., ::-1]
            images.append(rgb.transpose(2, 0, 1) / 255.0)
            labels.append(int(folder.name))
    if not images:
        raise ParameterError(f"{root}: the class folders hold no images ({', '.join(IMAGE_SUFFIXES)})")
    return np.asarray(images, dtype=np.float32), np.asarray(labels, dtype=np.int64)
