"""LipSDP soundness: certified bounds of random small networks against strong sampled lower bounds.

    python benchmarks/lipsdp_soundness.py [--count 200] [--seed 0] [--output lipsdp_soundness.json]

Each network draws an activation (ReLU, LeakyReLU with slopes in [-0.5, 10], Tanh, Sigmoid, ELU, MaxMin),
a shape (plain; rank-deficient: one weight a product through a width-1 bottleneck; deep and narrow:
6-8 hidden layers of width 2-4; wide input: 20 inputs into a first weight with singular values down
to 1e-13, which exercises the row-space reduction's dropped term), per-layer weight scales 10^U(-6, 4),
and a random LipSDP formulation (layer/neuron multipliers, cuts, monolithic/chordal, SCS/Clarabel,
tolerance 1e-2..1e-8; MaxMin encodings). The certified bound (LipSDP's or the naive product, whichever
is smaller; printed rounded up) is compared with the largest of ``lower_bound`` at input scales 1 and 1/(first layer's
scale): Jacobian norms at 1024 Gaussian inputs, then 300 Adam steps on ||J(x)^T u|| / ||u|| and on pair
ratios from the 32 best. A violation is a certified bound strictly below that lower bound. The
ratio bound / lower is reported where the lower bound is positive ("lower 0": every sampled Jacobian
vanished, e.g. saturated or dead units in deep narrow networks).
Writes benchmarks/results/lipsdp_soundness.json (or ``--output``).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
from torch import nn

from discover.decimals import decimal_up
from games.lipsdp import MaxMin, Network, lipschitz_bound
from games.lipsdp.bounds import lower_bound
from games.lipsdp.network import Activation, activation_of
from games.lipsdp.solve import SOLVERS

RESULTS = Path(__file__).parent / "results"
ACTIVATIONS = ("relu", "leaky_relu", "tanh", "sigmoid", "elu", "maxmin")
SHAPES = ("plain", "rank-deficient", "deep-narrow", "wide-input")


def activation(name: str, rng: np.random.Generator) -> Activation:
    module = {"relu": nn.ReLU(), "tanh": nn.Tanh(), "sigmoid": nn.Sigmoid(), "maxmin": MaxMin(),
              "leaky_relu": nn.LeakyReLU(float(rng.choice([0.01, 0.1, 0.3, -0.5, 2.0, 10.0]))),
              "elu": nn.ELU(float(rng.choice([0.5, 1.0, 2.0])))}[name]
    return activation_of(module, name)


def random_case(index: int, rng: np.random.Generator) -> tuple[Network, dict]:
    name, shape = ACTIVATIONS[index % len(ACTIVATIONS)], SHAPES[(index // len(ACTIVATIONS)) % len(SHAPES)]
    even = name == "maxmin"
    hidden_width = (lambda lo, hi: int(rng.integers(lo // 2, hi // 2 + 1)) * 2) if even else \
        (lambda lo, hi: int(rng.integers(lo, hi + 1)))
    if shape == "deep-narrow":
        widths = [int(rng.integers(2, 5))] + [hidden_width(2, 4) for _ in range(int(rng.integers(6, 9)))] + [2]
    elif shape == "wide-input":
        widths = [20] + [hidden_width(4, 8) for _ in range(int(rng.integers(1, 3)))] + [int(rng.integers(1, 4))]
    else:
        widths = [int(rng.integers(2, 9))] + [hidden_width(2, 10) for _ in range(int(rng.integers(1, 4)))] + \
                 [int(rng.integers(1, 5))]
    scales = 10.0 ** rng.uniform(-6, 4, len(widths) - 1)
    weights = []
    for k in range(len(widths) - 1):
        W = rng.standard_normal((widths[k + 1], widths[k])) / np.sqrt(widths[k])
        if shape == "rank-deficient" and k == int(rng.integers(0, len(widths) - 1)):
            W = np.outer(rng.standard_normal(widths[k + 1]), rng.standard_normal(widths[k])) / widths[k]
        if shape == "wide-input" and k == 0:
            u, _, vt = np.linalg.svd(W, full_matrices=False)
            W = (u * np.logspace(0, -13, len(u))) @ vt
        weights.append(W * scales[k])
    zero_bias = bool(rng.integers(0, 2))
    biases = tuple(np.zeros(w) if zero_bias else 0.1 * rng.standard_normal(w) * s for w, s in zip(widths[1:], scales))
    act = activation(name, rng)
    network = Network(tuple(weights), biases, (act,) * (len(widths) - 2))
    depth = network.depth
    formulation = {"formulation": str(rng.choice(["neuron", "layer"])),
                   "cuts": tuple(c for c in range(1, depth) if rng.random() < 0.3),
                   "chordal": bool(rng.integers(0, 2)), "solver": str(rng.choice(SOLVERS)),
                   "tolerance": float(rng.choice([1e-2, 1e-4, 1e-6, 1e-8])),
                   "encoding": str(rng.choice(["sum-preserving", "residual-relu"])) if even else "sum-preserving"}
    info = {"activation": act.name, "alpha": act.alpha, "beta": act.beta, "shape": shape, "widths": widths,
            "scales": scales.tolist(), "zero_bias": zero_bias}
    return network, {**info, **formulation, "cuts": list(formulation["cuts"])}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--time-limit", type=float, default=30.0, help="seconds per solver call")
    parser.add_argument("--output", default="lipsdp_soundness.json", help="file name under benchmarks/results/")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rng = np.random.default_rng(args.seed)
    rows = []
    print(f"{'#':>3} {'activation':<11} {'shape':<14} {'widths':<26} {'form':<7} {'solver':<8} {'tol':>6} "
          f"{'method':<7} {'bound':>11} {'lower':>11} {'ratio':>8} {'s':>5}")
    for index in range(args.count):
        network, row = random_case(index, rng)
        start = time.perf_counter()
        result = lipschitz_bound(network, row["formulation"], solver=row["solver"], cuts=tuple(row["cuts"]),
                                 chordal=row["chordal"], encoding=row["encoding"], tolerance=row["tolerance"],
                                 time_limit=args.time_limit, lower=False)
        seconds = time.perf_counter() - start
        first = float(row["scales"][0])
        lower = max(lower_bound(network, samples=1024, steps=300, starts=32, scale=s, seed=index)
                    for s in sorted({1.0, 1.0 / first}))
        row.update(bound=result.bound, method=result.method, lipsdp=result.lipsdp, naive=result.naive, lower=lower,
                   ratio=result.bound / lower if lower > 0 else None, violation=result.bound < lower,
                   reason=result.reason, seconds=round(seconds, 2))
        rows.append(row)
        ratio = f"{row['ratio']:8.3g}" if row["ratio"] is not None else "       -"
        print(f"{index:>3} {row['activation']:<11} {row['shape']:<14} {row['widths']!s:<26} "
              f"{row['formulation']:<7} {row['solver']:<8} {row['tolerance']:>6.0e} {row['method']:<7} "
              f"{decimal_up(row['bound'], 4):>11} {lower:>11.4g} {ratio} {seconds:>5.1f}" + ("  VIOLATION" if row["violation"] else ""),
              flush=True)
        (RESULTS / args.output).write_text(json.dumps(rows, indent=1))
    print()
    print(f"{'activation':<11} {'networks':>8} {'violations':>10} {'LipSDP verified':>15} {'naive chosen':>12} "
          f"{'lower 0':>7} {'median ratio':>12} {'max ratio':>10}")
    for name in sorted({r["activation"].rstrip("0123456789") for r in rows}) + ["all"]:
        group = [r for r in rows if name == "all" or r["activation"] == name]
        ratios = [r["ratio"] for r in group if r["ratio"] is not None]
        print(f"{name:<11} {len(group):>8} {sum(r['violation'] for r in group):>10} "
              f"{sum(r['lipsdp'] is not None for r in group):>15} {sum(r['method'] == 'naive' for r in group):>12} "
              f"{sum(r['ratio'] is None for r in group):>7} "
              f"{statistics.median(ratios) if ratios else float('nan'):>12.4g} {max(ratios, default=float('nan')):>10.4g}")
    print(f"wrote {RESULTS / args.output}")


if __name__ == "__main__":
    main()
