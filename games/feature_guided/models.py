"""The demo classifiers: an MLP and a small CNN on 16x16 digits, trained in seconds on CPU.

Training is deterministic (fixed seed, full-batch Adam, one thread) and the weights are cached in the
user's cache directory (``$XDG_CACHE_HOME/discover/feature_guided``, else ``~/.cache/...``), keyed by
the architecture and the training settings, so the same model is rebuilt byte for byte wherever the
cache is missing. Both are plain ``nn.Sequential`` stacks of Linear/Conv2d and ReLU, the form
:mod:`.certify` can certify. ``load_model`` also takes a ``torch.save`` file of a user's module.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import torch
from torch import nn

from discover.errors import ParameterError
from games.feature_guided.data import DIGITS_SIZE, digits

DEMOS = ("demo", "demo-cnn")  # demo: the MLP
EPOCHS = 300
SEED = 0


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "discover" / "feature_guided"


def architecture(name: str) -> nn.Sequential:
    """``demo``: 256-32-32-10 ReLU MLP; ``demo-cnn``: two stride-2 3x3 convolutions (8, 16 channels) + linear."""
    if name == "demo":
        return nn.Sequential(nn.Flatten(), nn.Linear(DIGITS_SIZE**2, 32), nn.ReLU(), nn.Linear(32, 32), nn.ReLU(),
                             nn.Linear(32, 10))
    if name == "demo-cnn":
        side = DIGITS_SIZE // 4
        return nn.Sequential(nn.Conv2d(1, 8, 3, stride=2, padding=1), nn.ReLU(),
                             nn.Conv2d(8, 16, 3, stride=2, padding=1), nn.ReLU(), nn.Flatten(),
                             nn.Linear(16 * side * side, 10))
    raise ParameterError(f"no demo model {name!r}; demos: {', '.join(DEMOS)}")


def train(name: str, epochs: int = EPOCHS, seed: int = SEED) -> nn.Sequential:
    """The demo ``name`` trained on the 1297 training digits (full-batch Adam, lr 0.01, one thread)."""
    images, labels = digits("train")
    x, y = torch.as_tensor(images), torch.as_tensor(labels)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        torch.manual_seed(seed)
        model = architecture(name)
        optimiser = torch.optim.Adam(model.parameters(), lr=0.01)
        for _ in range(epochs):
            optimiser.zero_grad()
            nn.functional.cross_entropy(model(x), y).backward()
            optimiser.step()
    finally:
        torch.set_num_threads(threads)
    return model.eval()


def demo_model(name: str = "demo") -> nn.Sequential:
    """A trained demo model, from the cache or trained now (and cached)."""
    key = hashlib.sha1(f"{name}-{DIGITS_SIZE}-{EPOCHS}-{SEED}-{torch.__version__}".encode()).hexdigest()[:12]
    path = cache_dir() / f"{name}-{key}.pt"
    model = architecture(name)
    if path.is_file():
        try:
            model.load_state_dict(torch.load(path, weights_only=True))
            return model.eval()
        except (RuntimeError, OSError, ValueError):
            pass  # a truncated or stale cache file: train again
    model = train(name)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    torch.save(model.state_dict(), tmp)
    os.replace(tmp, path)  # atomic: concurrent workers never read half a file
    return model


def load_model(spec: str) -> nn.Module:
    """``demo`` / ``demo-cnn``, or the path of a ``torch.save`` file of a whole module."""
    if spec in DEMOS:
        return demo_model(spec)
    path = Path(spec)
    if not path.is_file():
        raise ParameterError(f"model must be one of {', '.join(DEMOS)} or a torch.save file; no file at {spec}")
    try:
        model = torch.load(path, weights_only=False, map_location="cpu")
    except Exception as exc:  # unpickling can raise anything
        raise ParameterError(f"could not load a model from {spec}: {exc}") from None
    if not isinstance(model, nn.Module):
        raise ParameterError(f"{spec} holds a {type(model).__name__}, not a torch module")
    return model.eval()
