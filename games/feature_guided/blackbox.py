"""The black box: a classifier the game may only query for output probabilities.

Any torch module, or any callable from a batch of images (N, C, H, W) to probabilities or logits
(N, K), is wrapped so that the game sees probabilities only. Every image queried is counted;
queries are batched (``batch_size`` images per forward pass) on the wrapper's device. Gradients are
impossible through it: inputs are detached copies, the forward pass runs under
``torch.inference_mode``, and what comes back is a NumPy array (no autograd graph at all). Outputs
that are neither probabilities nor finite logits are refused with one line.

Where the model runs (:func:`placed`): ``device=auto`` means CUDA, when present, for a torch module
with parameters or buffers, the tensors the wrapper can move; a plain callable, or a module that keeps
its tensors elsewhere, gets CPU inputs unless ``device`` names another, since the wrapper cannot see
where it computes. A module that must change device or leave training mode is copied first: the
caller's model is never changed, because the caller (and :func:`~.certify.certify`) keep using it
where it was.
"""

from __future__ import annotations

import copy
from typing import Callable

import numpy as np
import torch

from discover.errors import ParameterError

Classifier = Callable[[torch.Tensor], torch.Tensor]
PROBABILITY_SLACK = 1e-4  # rows within this of summing to one, entries in [0, 1], are probabilities


def as_chw(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """An HW or CHW image in [0, 1] as a float32 CHW array; anything else gets one clear line."""
    array = image.detach().cpu().numpy() if isinstance(image, torch.Tensor) else np.asarray(image)
    if array.ndim == 2:
        array = array[None]
    if array.ndim != 3 or min(array.shape) < 1:
        raise ParameterError(f"an image must be shaped HW or CHW, got shape {tuple(array.shape)}")
    if not np.issubdtype(array.dtype, np.number):
        raise ParameterError(f"an image must hold numbers, got dtype {array.dtype}")
    if not np.all(np.isfinite(array)):
        raise ParameterError("the image contains NaN or infinite values")
    if array.min() < 0 or array.max() > 1:
        raise ParameterError(f"image values must lie in [0, 1], got [{array.min():.4g}, {array.max():.4g}]")
    return np.ascontiguousarray(array, dtype=np.float32)


def torch_device(name: str | None) -> str:
    """``auto`` (or None): CUDA when available, else the CPU; ``cpu``, ``cuda`` or ``cuda:N`` checked."""
    if name in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    try:
        device = torch.device(name)
    except (RuntimeError, TypeError):
        raise ParameterError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ParameterError(f"device {name!r} asked for, but torch sees no CUDA GPU here: use device=cpu or auto")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ParameterError(f"device {name!r}: only {torch.cuda.device_count()} CUDA GPU(s) are visible")
    elif device.type != "cpu":
        raise ParameterError(f"device must be auto, cpu, cuda or cuda:N, got {name!r}")
    return str(device)


def placed(model: Classifier, device: str | None) -> tuple[Classifier, str]:
    """The model ready to query, and the device its inputs go to (see the module docstring)."""
    module = model if isinstance(model, torch.nn.Module) else None
    tensors = [*module.parameters(), *module.buffers()] if module is not None else []
    if module is None or not tensors:
        return model, "cpu" if device in (None, "auto") else torch_device(device)
    name = torch_device(device)
    target = torch.device(name)
    if target.type == "cuda" and target.index is None:
        target = torch.device("cuda", torch.cuda.current_device())
    if all(t.device == target for t in tensors) and not any(m.training for m in module.modules()):
        return module, name
    return copy.deepcopy(module).to(target).eval(), name


class BlackBox:
    """Probabilities of a batch of images, counted; ``outputs``: ``auto`` (rows that are probability
    vectors are taken as such, anything else as logits and soft-maxed), ``probabilities`` or ``logits``."""

    def __init__(self, model: Classifier, *, device: str | None = None, batch_size: int = 512,
                 outputs: str = "auto") -> None:
        if not callable(model):
            raise ParameterError(f"the model must be a torch module or a callable, got {type(model).__name__}")
        if outputs not in ("auto", "probabilities", "logits"):
            raise ParameterError(f"outputs must be auto, probabilities or logits, got {outputs!r}")
        if batch_size < 1:
            raise ParameterError(f"batch_size must be positive, got {batch_size}")
        self._model, self.device = placed(model, device)
        self.batch_size = batch_size
        self.outputs = outputs
        self.queries = 0  # images queried so far
        self.calls = 0  # forward passes so far

    def __call__(self, images: np.ndarray | torch.Tensor) -> np.ndarray:
        """(N, C, H, W) images -> (N, K) probabilities (float64 NumPy, no gradient can exist)."""
        batch = images.detach().cpu().numpy() if isinstance(images, torch.Tensor) else np.asarray(images)
        if batch.ndim != 4:
            raise ParameterError(f"the black box takes a batch shaped (N, C, H, W), got shape {batch.shape}")
        if not np.all(np.isfinite(batch)):
            raise ParameterError("a queried image contains NaN or infinite values")
        rows = [self._forward(batch[k:k + self.batch_size]) for k in range(0, len(batch), self.batch_size)]
        self.queries += len(batch)
        return np.concatenate(rows) if rows else np.zeros((0, 0))

    def _forward(self, chunk: np.ndarray) -> np.ndarray:
        x = torch.as_tensor(np.ascontiguousarray(chunk, dtype=np.float32), device=self.device)
        with torch.inference_mode():
            out = self._model(x)
        self.calls += 1
        if not isinstance(out, torch.Tensor):
            out = torch.as_tensor(np.asarray(out))
        out = out.detach().to("cpu", torch.float64)
        if out.ndim != 2 or out.shape[0] != len(chunk) or out.shape[1] < 2:
            raise ParameterError(f"the model must map {len(chunk)} images to ({len(chunk)}, classes) outputs, "
                                 f"got shape {tuple(out.shape)}")
        if not torch.isfinite(out).all():
            raise ParameterError("the model returned NaN or infinite outputs")
        is_prob = bool(((out >= 0) & (out <= 1)).all() and ((out.sum(1) - 1).abs() <= PROBABILITY_SLACK).all())
        if self.outputs == "probabilities" and not is_prob:
            raise ParameterError("the model's outputs are not probabilities (entries in [0, 1], rows summing to 1)")
        if self.outputs == "logits" or not is_prob:
            out = torch.softmax(out, dim=1)
        return out.numpy()
