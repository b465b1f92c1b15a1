"""The lower end of the bracket: a radius within which no adversarial example exists.

For a network f with a certified l2 Lipschitz bound L, ``games.lipsdp.certified_radius`` proves the
class at x cannot change while ||d||_2 < r2 = margin / (sqrt(2) L), with the logit margin read from a
rigorous enclosure of f(x) and every rounding directed ([WHK18] Sec. 5 states the same kind of
guarantee for Lipschitz networks). The other norms follow from norm inequalities on n = C H W entries,
each rounded down: ||d||_1 >= ||d||_2, so r1 = r2; ||d||_2 <= sqrt(n) ||d||_inf, so rinf = r2 / sqrt(n);
a perturbation of k pixels (C channels each, every entry in [-1, 1] because images live in [0, 1])
has ||d||_2 <= sqrt(k C), so it needs k >= r2^2 / C pixels, and r0 = ceil of that.

Which networks: ``nn.Sequential`` stacks of Linear, Conv2d (any stride, padding, no dilation or
groups) and ReLU, with Flatten. A convolution is linear, so it is unrolled into its exact matrix
(the images of the unit vectors: each entry is one weight times 1.0, exact in floating point). An
MLP gets LipSDP-Neuron's verified bound (or the naive product of norms when that is smaller); a CNN's
unrolled layers are too wide for the SDP here, so it gets the naive product of proven spectral norms,
which is rigorous but looser. Anything else: no radius, and the reason.
The certificate is for the exact real-arithmetic network with the model's float weights.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from games.lipsdp import Network, certified_radius, lipschitz_bound, naive_bound
from games.lipsdp.network import ACTIVATION_NAMES, check_unmodified, global_hooks
from games.outward import down

LIPSDP_MAX_HIDDEN = 256  # hidden neurons beyond which the SDP is skipped and the naive bound used


@dataclass(frozen=True)
class Certificate:
    """A certified radius in ``norm`` (None: none computed, ``reason`` says why) and how it was obtained."""

    radius: float | None
    norm: str
    l2: float | None = None
    lipschitz: float | None = None
    method: str = ""
    reason: str = ""

    @property
    def text(self) -> str:
        """One line for outputs: why there is no (or a zero) radius when there is a reason, else the method."""
        return self.reason or self.method


def as_network(model: nn.Module, shape: tuple[int, int, int]) -> Network:
    """The model as a dense feed-forward :class:`Network` on flattened (C, H, W) inputs, or ValueError."""
    if type(model) is not nn.Sequential:  # a subclass's forward may preprocess its input
        raise ValueError(f"only nn.Sequential models (the class itself) are certified, got {type(model).__name__}")
    if global_hooks():
        raise ValueError(f"torch has global module hooks set ({', '.join(global_hooks())}), which may change what "
                         "the model computes")
    check_unmodified(model, "the model")
    weights, biases, activations = [], [], []
    current = shape
    pending_linear = False
    with torch.no_grad():
        for k, layer in enumerate(model):
            check_unmodified(layer, f"layer {k} ({type(layer).__name__})")
            kind = type(layer)
            if kind in (nn.Flatten, nn.Identity):
                continue
            if kind is nn.ReLU:
                if not pending_linear:
                    raise ValueError(f"layer {k}: an activation must follow a linear layer")
                activations.append(ACTIVATION_NAMES["relu"])
                pending_linear = False
                continue
            if pending_linear:
                raise ValueError(f"layer {k}: two linear layers in a row (merge them, or add an activation)")
            if kind is nn.Linear:
                weights.append(layer.weight.detach().double().cpu().numpy())
                biases.append(layer.bias.detach().double().cpu().numpy() if layer.bias is not None
                              else np.zeros(layer.out_features))
                current = (layer.out_features,)
            elif kind is nn.Conv2d:
                if layer.groups != 1 or layer.dilation != (1, 1) or layer.padding_mode != "zeros" or len(current) != 3:
                    raise ValueError(f"layer {k}: only plain Conv2d on CHW inputs is certified")
                n = int(np.prod(current))
                basis = torch.eye(n, dtype=torch.float64).reshape(n, *current)
                conv = nn.functional.conv2d(basis, layer.weight.detach().double().cpu(), None, layer.stride,
                                            layer.padding)
                out_shape = tuple(conv.shape[1:])
                weights.append(conv.reshape(n, -1).T.numpy().copy())
                bias = layer.bias.detach().double().cpu() if layer.bias is not None else torch.zeros(out_shape[0])
                biases.append(bias[:, None, None].expand(*out_shape).reshape(-1).numpy().copy())
                current = out_shape
            else:
                raise ValueError(f"layer {k}: {kind.__name__} is not certified (Linear, Conv2d, ReLU, Flatten only)")
            pending_linear = True
    if not pending_linear:
        raise ValueError("the network must end with a linear layer (its logits)")
    return Network(tuple(weights), tuple(biases), tuple(activations))


_BOUNDS: dict[str, tuple[float, str]] = {}  # by the network's weights: one SDP per model and process


def lipschitz(network: Network) -> tuple[float, str]:
    """A certified l2 Lipschitz bound of the whole network, and which method gave it (computed once per
    network in a process: the key is a digest of every weight, bias and activation)."""
    digest = hashlib.sha256(repr([a.name for a in network.activations]).encode())
    for array in (*network.weights, *network.biases):
        digest.update(repr((array.shape, array.dtype.str)).encode() + np.ascontiguousarray(array).tobytes())
    key = digest.hexdigest()
    if key not in _BOUNDS:
        if not network.activations:  # a linear map: its proven spectral norm is the constant
            _BOUNDS[key] = (naive_bound(network), "naive (a linear map: its spectral norm)")
        elif sum(network.widths[1:-1]) <= LIPSDP_MAX_HIDDEN:
            result = lipschitz_bound(network, formulation="neuron", lower=False)
            _BOUNDS[key] = (result.bound, result.method)
        else:
            _BOUNDS[key] = (naive_bound(network), "naive (unrolled layers too wide for LipSDP)")
    return _BOUNDS[key]


def from_l2(r2: float, norm: str, shape: tuple[int, int, int]) -> float:
    """The certified radius in ``norm`` implied by a certified l2 radius (rounded down, see above)."""
    if r2 <= 0:
        return 0.0
    c, h, w = shape
    if norm in ("l2", "l1"):
        return r2
    if norm == "linf":
        return float(down(np.array(r2 / math.sqrt(c * h * w) * (1 - 1e-15))))
    if norm == "l0":
        return float(math.ceil(float(down(np.array(r2 * r2 * (1 - 1e-15) / c)))))
    raise ValueError(f"unknown norm {norm!r}")


def certify(model: object, image: np.ndarray, label: int, norm: str, bound: tuple[float, str] | None = None
            ) -> Certificate:
    """The certified radius around ``image`` (CHW) for ``label`` in ``norm`` (None with the reason when the
    model is not a supported network, or when ``label`` is not the class the network provably gives)."""
    try:
        network = as_network(model, tuple(image.shape))  # type: ignore[arg-type]
    except ValueError as exc:
        return Certificate(None, norm, reason=f"no certificate: {exc}")
    L, method = bound if bound is not None else lipschitz(network)
    robust = certified_radius(network, image.reshape(-1).astype(np.float64), L)
    if robust.label != label:
        return Certificate(0.0, norm, 0.0, L, method,
                           f"the network's class at the image is {robust.label}, not {label}")
    return Certificate(from_l2(robust.radius, norm, tuple(image.shape)), norm, robust.radius, L, method)
