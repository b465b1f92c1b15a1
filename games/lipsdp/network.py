"""Networks in: feed-forward ``nn.Sequential`` models read into weights and activation descriptions.

Accepted: ``Linear`` layers alternating with one activation each (ReLU, LeakyReLU, Tanh, Sigmoid, ELU,
and the MaxMin / GroupSort modules defined here), ending in a ``Linear``; ``Flatten`` and ``Identity``
are skipped. From a live module, a ``torch.save`` file of one, or an ``.npz`` with arrays ``W0, b0,
W1, b1, ...`` and a string array ``activations`` (e.g. ``["relu", "maxmin"]``, one per hidden layer).
Anything else is refused with the layer and the reason.

What is read is the network in exact arithmetic that every bound is proven for: weights and biases as
float64 (converted exactly or refused: :func:`exact_float64`), activation parameters as the kernel on
the module's dtype uses them (:func:`kernel_scalar`). The module's own floating-point forward pass
rounds at every operation; that is not part of the certificate.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np
import torch
from torch import nn


class GroupSort(nn.Module):
    """Sort each consecutive group of ``group_size`` features in descending order (1-Lipschitz, sum-preserving)."""

    def __init__(self, group_size: int = 2) -> None:
        super().__init__()
        if group_size < 2:
            raise ValueError(f"GroupSort needs groups of at least 2, got {group_size}")
        self.group_size = group_size

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.shape[-1] % self.group_size:
            raise ValueError(f"GroupSort({self.group_size}) needs a width divisible by {self.group_size}, got {x.shape[-1]}")
        grouped = x.reshape(*x.shape[:-1], -1, self.group_size)
        return torch.sort(grouped, dim=-1, descending=True).values.reshape(x.shape)


class MaxMin(GroupSort):
    """(a, b) -> (max(a, b), min(a, b)) on consecutive pairs: GroupSort with groups of 2."""

    def __init__(self) -> None:
        super().__init__(2)


@dataclass(frozen=True)
class Activation:
    """One hidden layer's activation: slope-restricted in [alpha, beta] componentwise, or a group sort."""

    name: str
    alpha: float = 0.0
    beta: float = 1.0
    group_size: int = 0  # > 0 for GroupSort / MaxMin
    parameter: float = 0.0  # LeakyReLU's negative slope, ELU's alpha

    @property
    def lipschitz(self) -> float:
        return 1.0 if self.group_size else max(abs(self.alpha), abs(self.beta))

    def module(self) -> nn.Module:
        if self.group_size:
            return MaxMin() if self.group_size == 2 else GroupSort(self.group_size)
        return {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid()}.get(self.name) or (
            nn.LeakyReLU(self.parameter) if self.name == "leaky_relu" else nn.ELU(self.parameter))


ACTIVATION_NAMES = {"relu": Activation("relu"), "tanh": Activation("tanh"), "sigmoid": Activation("sigmoid", 0.0, 0.25),
                    "elu": Activation("elu", parameter=1.0), "maxmin": Activation("maxmin", group_size=2)}


def kernel_scalar(value: float, dtype: torch.dtype) -> float:
    """A Python-float parameter (LeakyReLU's slope, ELU's alpha) as torch's kernels use it on ``dtype``
    inputs: rounded to the operation's compute type, float64 for float64 and float32 otherwise
    (float16 and bfloat16 compute in float32). LeakyReLU(1.1) on float32 multiplies by
    1.10000002384..., not 1.1: the network certified must have that slope."""
    compute = torch.float64 if dtype == torch.float64 else torch.float32
    return float(torch.tensor(float(value), dtype=torch.float64).to(compute).item())


def activation_of(module: nn.Module, where: str, dtype: torch.dtype = torch.float64) -> Activation:
    """The slope bounds of a supported activation module (its class exactly, never a subclass) whose
    inputs are ``dtype`` (its parameters taken as the kernel uses them: :func:`kernel_scalar`)."""
    kind = type(module)
    if kind in (GroupSort, MaxMin):
        return Activation("maxmin" if module.group_size == 2 else f"groupsort{module.group_size}",
                          group_size=module.group_size)
    if kind is nn.ReLU:
        return ACTIVATION_NAMES["relu"]
    if kind is nn.LeakyReLU:
        s = kernel_scalar(module.negative_slope, dtype)
        return Activation("leaky_relu", min(s, 1.0), max(s, 1.0), parameter=s)
    if kind is nn.Tanh:
        return ACTIVATION_NAMES["tanh"]
    if kind is nn.Sigmoid:
        return ACTIVATION_NAMES["sigmoid"]
    if kind is nn.ELU:
        a = kernel_scalar(module.alpha, dtype)
        if a < 0:
            raise ValueError(f"{where}: ELU with negative alpha {a} is not monotone; not supported")
        return Activation("elu", 0.0, max(1.0, a), parameter=a)
    raise ValueError(f"{where}: {type(module).__name__} is not a supported activation (ReLU, LeakyReLU, Tanh, "
                     "Sigmoid, ELU, MaxMin, GroupSort)")


def exact_float64(array: np.ndarray, where: str) -> np.ndarray:
    """``array`` as float64 when that changes no entry, else a clear refusal. Every bound's rounding
    analysis assumes float64 arithmetic on the exact weights: float32 arrays left as they are would run
    the proofs in float32, and a silently rounded longdouble or huge integer is another network."""
    a = np.asarray(array)
    if a.dtype == np.float64:
        return a
    if a.dtype.kind == "f" and a.dtype.itemsize < 8:  # float16, float32: every value is a float64
        return a.astype(np.float64)
    if a.dtype.kind in "iub":
        if a.dtype.kind == "b" or np.abs(a.astype(object)).max(initial=0) <= 2 ** 53:
            return a.astype(np.float64)
        raise ValueError(f"{where}: integers beyond 2^53 are not exact in float64; convert them yourself")
    if a.dtype.kind == "f":  # longdouble: exact only if it rounds back to itself
        out = a.astype(np.float64)
        if np.array_equal(out.astype(a.dtype), a, equal_nan=True):
            return out
        raise ValueError(f"{where}: {a.dtype} values that float64 cannot hold exactly; round them to float64 yourself")
    raise ValueError(f"{where}: dtype {a.dtype} is not a real number type")


@dataclass(frozen=True)
class Network:
    """f(x) = W_K phi_{K-1}(... phi_0(W_0 x + b_0) ...) + b_K. Biases do not change Lipschitz constants."""

    weights: tuple[np.ndarray, ...]
    biases: tuple[np.ndarray, ...]
    activations: tuple[Activation, ...]

    def __post_init__(self) -> None:
        if len(self.weights) != len(self.activations) + 1 or len(self.biases) != len(self.weights):
            raise ValueError("a network needs one activation per hidden layer and one bias per linear layer")
        object.__setattr__(self, "weights", tuple(exact_float64(W, f"linear layer {k}'s weight")
                                                  for k, W in enumerate(self.weights)))
        object.__setattr__(self, "biases", tuple(exact_float64(b, f"linear layer {k}'s bias")
                                                 for k, b in enumerate(self.biases)))
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            if W.ndim != 2:
                raise ValueError(f"linear layer {k}: weight must be a matrix, got shape {W.shape}")
            if not np.all(np.isfinite(W)) or not np.all(np.isfinite(b)):
                raise ValueError(f"linear layer {k}: weights or bias contain NaN or infinity")
            if b.shape != (W.shape[0],):
                raise ValueError(f"linear layer {k}: bias has shape {b.shape}, expected ({W.shape[0]},)")
            if k and W.shape[1] != self.weights[k - 1].shape[0]:
                raise ValueError(f"linear layer {k}: takes {W.shape[1]} inputs but layer {k - 1} gives "
                                 f"{self.weights[k - 1].shape[0]}")
        for k, act in enumerate(self.activations):
            if act.group_size and self.weights[k].shape[0] % act.group_size:
                raise ValueError(f"activation {k} ({act.name}): width {self.weights[k].shape[0]} is not divisible "
                                 f"by the group size {act.group_size}")

    @property
    def widths(self) -> tuple[int, ...]:
        return (self.weights[0].shape[1], *(W.shape[0] for W in self.weights))

    @property
    def depth(self) -> int:
        return len(self.activations)

    def module(self) -> nn.Sequential:
        """The network as a float64 torch module (for sampling lower bounds)."""
        layers: list[nn.Module] = []
        for k, (W, b) in enumerate(zip(self.weights, self.biases)):
            linear = nn.Linear(W.shape[1], W.shape[0]).double()
            with torch.no_grad():
                linear.weight.copy_(torch.as_tensor(W))
                linear.bias.copy_(torch.as_tensor(b))
            layers.append(linear)
            if k < len(self.activations):
                layers.append(self.activations[k].module())
        return nn.Sequential(*layers)


SKIPPED = (nn.Flatten, nn.Identity, nn.Dropout)  # identities on (batch, features) inputs; Dropout only in eval mode
SUPPORTED = (nn.Linear, nn.ReLU, nn.LeakyReLU, nn.Tanh, nn.Sigmoid, nn.ELU, GroupSort, MaxMin, *SKIPPED)


def check_unmodified(module: nn.Module, where: str) -> None:
    """Refuse a module whose call does not run its class's forward: forward hooks, or a forward (or the
    call machinery) set on the instance, or a compiled forward."""
    hooks = [name for name in ("_forward_hooks", "_forward_pre_hooks") if getattr(module, name, None)]
    if hooks:
        raise ValueError(f"{where} has forward hooks ({', '.join(hooks)}), which may change what it computes; "
                         "remove them (handle.remove()) first")
    patched = [name for name in ("forward", "_call_impl", "_wrapped_call_impl", "__call__") if name in vars(module)]
    if patched or getattr(module, "_compiled_call_impl", None) is not None:
        raise ValueError(f"{where} has its own {', '.join(patched) or 'compiled forward'} set on the instance, so it may "
                         f"not compute what {type(module).__name__} does; rebuild it from the standard layer")


def check_plain(module: nn.Module, where: str) -> None:
    """Refuse what makes a module compute something other than its type says: hooks, instance
    overrides (:func:`check_unmodified`), subclasses, training Dropout."""
    check_unmodified(module, where)
    if type(module) not in (nn.Sequential, *SUPPORTED):
        name = type(module).__name__
        base = next((b.__name__ for b in type(module).__mro__[1:] if b in (nn.Sequential, *SUPPORTED)), None)
        raise ValueError(f"{where}: {name} is a subclass of {base}, whose forward may differ; use {base} itself"
                         if base else f"{where}: {name} is not a supported layer (Linear, ReLU, LeakyReLU, Tanh, "
                                      "Sigmoid, ELU, MaxMin, GroupSort, Flatten, Identity, Dropout)")
    if type(module) is nn.Dropout and module.training:
        raise ValueError(f"{where}: Dropout in training mode scales and zeroes activations at random; call model.eval()")


def global_hooks() -> list[str]:
    """Names of torch's process-wide module hooks that are set (they run on every module's forward)."""
    from torch.nn.modules import module as torch_module
    return [name for name in ("_global_forward_hooks", "_global_forward_pre_hooks") if getattr(torch_module, name, None)]


def from_module(model: nn.Module) -> Network:
    if not isinstance(model, nn.Sequential):
        raise ValueError(f"the model is a {type(model).__name__}, not an nn.Sequential: only feed-forward chains "
                         "of Linear layers and activations are supported")
    if global_hooks():
        raise ValueError(f"torch has global module hooks set ({', '.join(global_hooks())}), which may change what "
                         "the model computes; remove them first")
    check_plain(model, "the model")
    weights, biases, activations = [], [], []
    expect_linear = True
    for index, layer in enumerate(model):
        where = f"layer {index} ({type(layer).__name__})"
        if isinstance(layer, (nn.Conv1d, nn.Conv2d, nn.Conv3d)):
            raise ValueError(f"{where}: convolutions are not supported; unroll it into a Linear layer first")
        check_plain(layer, where)
        if isinstance(layer, SKIPPED):
            continue
        if isinstance(layer, nn.Linear):
            if not expect_linear:
                raise ValueError(f"{where}: two Linear layers in a row; merge them (their product is one linear map)")
            dtype = layer.weight.dtype
            W = layer.weight.detach().double().cpu().numpy()
            b = layer.bias.detach().double().cpu().numpy() if layer.bias is not None else np.zeros(W.shape[0])
            weights.append(W)
            biases.append(b)
            expect_linear = False
        elif expect_linear:
            raise ValueError(f"{where}: an activation must follow a Linear layer")
        else:
            activations.append(activation_of(layer, where, dtype))
            expect_linear = True
    if not weights:
        raise ValueError("the model has no Linear layer")
    if expect_linear:
        raise ValueError("the model must end with a Linear layer (the output map)")
    network = Network(tuple(weights), tuple(biases), tuple(activations))
    check_same_function(model, network)
    return network


def check_same_function(model: nn.Module, network: Network, samples: int = 64, seed: int = 0) -> None:
    """The network read back must compute what the module computes, on random inputs (a backstop for
    whatever the type checks miss). Both run in the module's dtype and device, so they do the same
    arithmetic; agreement is required to 1e4 ulps of that dtype, relative to the output size."""
    parameter = next(model.parameters())
    generator = torch.Generator(device="cpu").manual_seed(seed)
    x = torch.randn(samples, network.widths[0], generator=generator).to(parameter.device, parameter.dtype)
    try:
        with torch.no_grad():
            expected = model(x).double().cpu()
    except Exception as error:  # noqa: BLE001 - any failure of the user's forward gets one clear line
        raise ValueError(f"the model fails on a batch of {network.widths[0]}-wide inputs: {error}") from None
    with torch.no_grad():
        got = network.module().to(parameter.device, parameter.dtype)(x).double().cpu()
    tolerance = 1e4 * torch.finfo(parameter.dtype).eps
    if expected.shape != got.shape or not torch.allclose(expected, got, rtol=tolerance,
                                                         atol=tolerance * float(got.abs().max().clamp_min(1e-30))):
        raise ValueError("the model does not compute what its layers' types and weights say (checked on random "
                         "inputs): it has custom behaviour LipSDP cannot see; rebuild it from standard layers")


def from_npz(path: Path) -> Network:
    data = np.load(path, allow_pickle=False)
    count = sum(1 for key in data.files if key.startswith("W"))
    missing = [f"{p}{k}" for k in range(count) for p in "Wb" if f"{p}{k}" not in data.files]
    if count == 0 or missing:
        raise ValueError(f"{path}: expected arrays W0, b0, W1, b1, ... and 'activations'; missing {missing or ['W0']}")
    if "activations" not in data.files:
        raise ValueError(f"{path}: no 'activations' array (one name per hidden layer: {', '.join(ACTIVATION_NAMES)})")
    names = [str(a).lower() for a in data["activations"]]
    unknown = [n for n in names if n not in ACTIVATION_NAMES and not n.startswith("groupsort")]
    if unknown:
        raise ValueError(f"{path}: unknown activations {unknown}; known: {', '.join(ACTIVATION_NAMES)}, groupsortG")
    acts = tuple(ACTIVATION_NAMES[n] if n in ACTIVATION_NAMES else Activation(n, group_size=int(n[9:])) for n in names)
    return Network(tuple(data[f"W{k}"] for k in range(count)), tuple(data[f"b{k}"] for k in range(count)), acts)


def load_network(source: nn.Module | str | Path | Network) -> Network:
    """A :class:`Network` from a module, a ``torch.save`` file (.pt/.pth) or an ``.npz`` of weights."""
    if isinstance(source, Network):
        return source
    if isinstance(source, nn.Module):
        return from_module(source)
    path = Path(source)
    if not path.exists():
        raise FileNotFoundError(f"no model file at {path}")
    if path.suffix == ".npz":
        return from_npz(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=False)
    except Exception as error:  # noqa: BLE001 - any unreadable file gets the same clear message
        raise ValueError(f"{path}: not a torch.save file of a model ({error})") from None
    if isinstance(obj, dict):
        raise ValueError(f"{path}: holds a state dict, not a model; save the nn.Sequential itself "
                         "(torch.save(model, path)) or export an .npz of weights")
    if not isinstance(obj, nn.Module):
        raise ValueError(f"{path}: holds a {type(obj).__name__}, not an nn.Module")
    return from_module(obj)


def random_network(widths: Sequence[int], activation: str = "relu", seed: int = 0) -> Network:
    """A network with Gaussian weights scaled 1/sqrt(fan-in), for tests and benchmarks."""
    rng = np.random.default_rng(seed)
    weights = tuple(rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k]) for k in range(len(widths) - 1))
    biases = tuple(0.1 * rng.standard_normal(w) for w in widths[1:])
    act = ACTIVATION_NAMES[activation]
    return Network(weights, biases, (act,) * (len(widths) - 2))
