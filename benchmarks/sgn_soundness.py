"""Small-Gain Nash: proven (interval) constants against sampled ones, on random nonlinear games.

    python benchmarks/sgn_soundness.py [--games 50] [--adversarial 10] [--radius 0.5] [--samples 512] [--budgets 4096 32768]

Part 1, random games (2 players, 1 or 2 coordinates each, equilibrium at the origin):
    l_i = d_i |x_i|^2 / 2 - beta_i sum x_i^4 / 12 + x_i^T C_i tanh(x_j) + eps_i log(1 + |x|^2)
certified on the box of radius ``--radius`` with interval constants (a proof), and with sampled
constants at ``--samples`` Sobol points, once with safety 0 (what the samples see) and once with the
default safety 0.1 (the old default, now labelled an estimate); the interval method runs at each box
budget of ``--budgets``. Margin lost to rigour: 1 - margin(interval) / margin(sampled, safety 0), over
the games both certify (the sampled margin is itself optimistic, so this overstates the loss).
Part 2, the two-equilibria bump game at random (c, t, width): how often the sampled constants would
claim contraction over a basin that holds the second equilibrium, and how often the proof does (never).
Writes benchmarks/results/sgn_soundness.json.
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch
from grid import RESULTS

from games.small_gain_nash import DifferentiableGame, Reals, certify
from games.small_gain_nash.examples import two_equilibria
from games.small_gain_nash.geometry import block_norms


def random_game(rng: np.random.Generator) -> DifferentiableGame:
    dims = tuple(int(d) for d in rng.integers(1, 3, 2))
    d = rng.uniform(0.8, 1.5, 2)
    beta = rng.uniform(0.0, 0.6, 2)
    eps = rng.uniform(0.0, 0.2, 2)
    strong = rng.uniform(0.8, 2.5)  # one strong and one weak direction: Euclidean monotonicity usually fails
    C = [torch.as_tensor(strong * rng.uniform(-1, 1, (dims[0], dims[1]))),
         torch.as_tensor(rng.uniform(0.05, 0.4) * rng.uniform(-1, 1, (dims[1], dims[0])))]

    def make(i: int):
        def loss(blocks: tuple[torch.Tensor, ...]) -> torch.Tensor:
            x, y = blocks[i], blocks[1 - i]
            return (d[i] * (x @ x) / 2 - beta[i] * torch.sum(x ** 4) / 12 + x @ (C[i] @ torch.tanh(y))
                    + eps[i] * torch.log(1 + torch.sum(torch.cat(blocks) ** 2)))
        return loss

    return DifferentiableGame([make(0), make(1)], [Reals(dims[0]), Reals(dims[1])], equilibrium=np.zeros(sum(dims)),
                              name="random")


def timed(game: DifferentiableGame, radius: float, **kwargs) -> tuple[object, float]:
    start = time.perf_counter()
    cert = certify(game, radius, **kwargs)
    return cert, time.perf_counter() - start


def random_games(count: int, radius: float, samples: int, budgets: list[int], seed: int) -> list[dict]:
    rng = np.random.default_rng(seed)
    rows = []
    print(f"{'game':>4} {'dims':>6} | " + " | ".join(f"{'interval ' + str(b):>15} {'margin':>8} {'boxes':>6} {'s':>5}"
                                                   for b in budgets)
          + f" | {'sampled s=0':>11} {'margin':>8} {'s':>5} | {'sampled s=.1':>12} {'margin':>8} | lost to rigour")
    for k in range(count):
        game = random_game(rng)
        raw, raw_s = timed(game, radius, constants="sampled", samples=samples, safety=0.0)
        safe, _ = timed(game, radius, constants="sampled", samples=samples, safety=0.1)
        row = {"game": k, "dims": list(game.dims), "sampled_status": raw.status, "sampled_margin": raw.margin,
               "sampled_seconds": raw_s, "safety_status": safe.status, "safety_margin": safe.margin}
        cells = []
        for budget in budgets:
            proof, seconds = timed(game, radius, constants="interval", max_boxes=budget)
            lost = 1 - proof.margin / raw.margin if proof.certified and raw.estimated else None
            row[f"interval_{budget}"] = {"status": proof.status, "margin": proof.margin, "seconds": seconds,
                                         "boxes": proof.constants.boxes, "reason": proof.reason, "margin_lost": lost}
            cells.append((proof, seconds, lost))
        rows.append(row)
        print(f"{k:>4} {str(game.dims):>6} | " + " | ".join(
            f"{proof.status:>15} {proof.margin:>8.4f} {proof.constants.boxes:>6} {seconds:>5.2f}" for proof, seconds, _ in cells)
            + f" | {raw.status:>11} {raw.margin:>8.4f} {raw_s:>5.2f} | {safe.status:>12} {safe.margin:>8.4f} | "
            + " ".join("-" if lost is None else f"{lost:.1%}" for _, _, lost in cells), flush=True)
    return rows


def adversarial(count: int, samples: int, seed: int) -> list[dict]:
    rng = np.random.default_rng(seed + 1)
    rows = []
    for k in range(count):
        c, t, width = rng.uniform(0.2, 0.8), rng.choice([-1, 1]) * rng.uniform(0.2, 0.9), 10 ** rng.uniform(-3.3, -2.2)
        game = two_equilibria(c, t, width)
        p = torch.tensor([t, c * t], dtype=torch.float64)
        row = {"c": c, "t": t, "width": width}
        for name, kwargs in (("interval", {"constants": "interval"}),
                             ("sampled", {"constants": "sampled", "samples": samples, "safety": 0.1})):
            cert, seconds = timed(game, 1.0, **kwargs)
            holds = (cert.basin is not None and
                     float(block_norms(p - torch.as_tensor(cert.equilibrium), cert.weights, cert.blocks)) <= cert.basin)
            row |= {f"{name}_status": cert.status, f"{name}_seconds": seconds, f"{name}_basin_holds_p": holds,
                    f"{name}_mu1": float(cert.constants.mu[0])}
        rows.append(row)
        print(f"bump {k}: c={c:.2f} t={t:+.2f} width={width:.4f}: interval {row['interval_status']} "
              f"(mu1 >= {row['interval_mu1']:.4g}), sampled {row['sampled_status']} (mu1 ~ {row['sampled_mu1']:.4g}, "
              f"basin holds the second equilibrium: {row['sampled_basin_holds_p']})", flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--games", type=int, default=50)
    parser.add_argument("--adversarial", type=int, default=10)
    parser.add_argument("--radius", type=float, default=0.5)
    parser.add_argument("--samples", type=int, default=512)
    parser.add_argument("--budgets", type=int, nargs="+", default=[4096, 32768], help="interval box budgets")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rows = random_games(args.games, args.radius, args.samples, args.budgets, args.seed)
    bumps = adversarial(args.adversarial, args.samples, args.seed)
    summary: dict = {
        "games": len(rows),
        "sampled_estimated_safety0": sum(r["sampled_status"] == "estimated" for r in rows),
        "sampled_estimated_safety0.1": sum(r["safety_status"] == "estimated" for r in rows),
        "sampled_seconds_median": float(np.median([r["sampled_seconds"] for r in rows])),
    }
    for budget in args.budgets:
        runs = [r[f"interval_{budget}"] for r in rows]
        lost = [run["margin_lost"] for run in runs if run["margin_lost"] is not None]
        summary[f"interval_{budget}"] = {
            "certified": sum(run["status"] == "certified" for run in runs),
            "margin_lost_median": float(np.median(lost)) if lost else None,
            "margin_lost_p90": float(np.quantile(lost, 0.9)) if lost else None,
            "margin_lost_max": float(np.max(lost)) if lost else None,
            "seconds_median": float(np.median([run["seconds"] for run in runs])),
            "seconds_max": float(np.max([run["seconds"] for run in runs])),
        }
    summary |= {
        "bumps": len(bumps),
        "bumps_sampled_estimated": sum(b["sampled_status"] == "estimated" for b in bumps),
        "bumps_sampled_basin_holds_second_equilibrium": sum(b["sampled_basin_holds_p"] for b in bumps),
        "bumps_interval_certified": sum(b["interval_status"] == "certified" for b in bumps),
        "bumps_interval_basin_holds_second_equilibrium": sum(b["interval_basin_holds_p"] for b in bumps),
    }
    print(json.dumps(summary, indent=1))
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / "sgn_soundness.json"
    path.write_text(json.dumps({"args": vars(args), "summary": summary, "games": rows, "bumps": bumps}, indent=1))
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
