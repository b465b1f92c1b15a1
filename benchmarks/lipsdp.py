"""LipSDP bounds of MLPs: naive, monolithic and chordal LipSDP-Neuron, SCS vs Clarabel, lower bound, the game.

    python benchmarks/lipsdp.py [--depths 2 4 8] [--widths 32 64 128 256 512] [--kinds random digits]
                                [--limit 600] [--game-budget 30] [--clarabel-max 200]

For each MLP (64 inputs, 10 outputs; ``random``: Gaussian weights, ``digits``: trained briefly on
scikit-learn's digits): the naive bound; LipSDP-Neuron solved monolithically and with the chordal
decomposition (SCS, tolerance 1e-4, ``--limit`` seconds per solver call; the iterate reached is
verified, so a bound cut short by the limit is looser, never wrong); Clarabel on the monolithic
problem where the LMI has at most ``--clarabel-max`` rows; the sampled lower bound; and, with
``--game-budget`` > 0, a GP-guided campaign of the lipsdp game: its best verified bound, the
evaluations it took to match the best LipSDP-Neuron bound above, and its time.
Writes benchmarks/results/lipsdp.json (or ``--output``).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import torch

import discover
from discover.decimals import decimal_up
from games.lipsdp import (
    lipschitz_bound,
    load_network,
    lower_bound,
    naive_bound,
    random_network,
)
from games.lipsdp.digits import digits_mlp

RESULTS = Path(__file__).parent / "results"


def timed(**kwargs) -> tuple[float | None, float]:
    start = time.perf_counter()
    result = lipschitz_bound(lower=False, fallback=False, **kwargs)
    return result.lipsdp, round(time.perf_counter() - start, 1)  # LipSDP's own verified bound (None if none)


def game_campaign(model_path: Path, budget: int, target: float | None, timeout: float) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "lipsdp.db"
        game = discover.load_game("lipsdp", model=str(model_path))
        start = time.perf_counter()
        discover.Campaign(game, budget=budget, workers=2, timeout=timeout, db=db, seed=0).run()
        seconds = time.perf_counter() - start
        with discover.open(db) as store:
            history = store.evaluations()
            best_rows = store.evaluations(order="best", status="ok")
    best, reached = None, None
    for i, outcome in enumerate((record.outcome() for record in history), 1):
        if outcome.value is not None and (best is None or -outcome.value < best):
            best = -outcome.value
        if reached is None and best is not None and target is not None and best <= target * (1 + 1e-4):
            reached = i
    return {"game_best": best, "game_evaluations_to_neuron": reached, "game_seconds": round(seconds, 1),
            "game_best_formulation": best_rows[0].label if best_rows else None}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--depths", type=int, nargs="+", default=[2, 4, 8])
    parser.add_argument("--widths", type=int, nargs="+", default=[32, 64, 128, 256, 512])
    parser.add_argument("--kinds", nargs="+", default=["random", "digits"])
    parser.add_argument("--limit", type=float, default=600.0, help="seconds per solver call")
    parser.add_argument("--clarabel-max", type=int, default=200)
    parser.add_argument("--skip-monolithic-above", type=int, default=1100,
                        help="LMI rows above which the monolithic solve is not attempted")
    parser.add_argument("--game-budget", type=int, default=0)
    parser.add_argument("--output", default="lipsdp.json", help="file name under benchmarks/results/")
    args = parser.parse_args()
    RESULTS.mkdir(exist_ok=True)
    rows = []
    print(f"{'kind':<7} {'depth':>5} {'width':>5} {'naive':>9} {'mono':>9} {'mono s':>7} {'chordal':>9} {'chord s':>7} "
          f"{'clarabel s':>10} {'lower':>8} {'game':>9} {'evals':>5} {'game s':>7}")
    for kind in args.kinds:
        for depth in args.depths:
            for width in args.widths:
                model = digits_mlp(depth, width, epochs=100, lr=0.003)[0] if kind == "digits" else None
                network = load_network(model) if model is not None else random_network([64] + [width] * depth + [10], seed=0)
                rows_in_lmi = min(64, width) + depth * width
                row = {"kind": kind, "depth": depth, "width": width, "lmi_rows": rows_in_lmi,
                       "naive": naive_bound(network)}
                common = dict(model=network, formulation="neuron", tolerance=1e-4, time_limit=args.limit)
                if rows_in_lmi <= args.skip_monolithic_above:
                    row["monolithic"], row["monolithic_seconds"] = timed(**common)
                row["chordal"], row["chordal_seconds"] = timed(chordal=True, **common)
                if rows_in_lmi <= args.clarabel_max:
                    row["clarabel"], row["clarabel_seconds"] = timed(**dict(common, solver="CLARABEL", tolerance=1e-7))
                row["lower"] = lower_bound(network)
                if args.game_budget:
                    with tempfile.TemporaryDirectory() as tmp:
                        path = Path(tmp) / "model.pt"
                        torch.save(network.module(), path)
                        target = min(b for b in (row.get("monolithic"), row.get("chordal")) if b is not None)
                        row.update(game_campaign(path, args.game_budget, target, args.limit))
                rows.append(row)

                def show(key: str, fmt: str) -> str:
                    return format(row[key], fmt) if row.get(key) is not None else "-"

                def up(key: str) -> str:  # certified bounds are printed rounded up
                    return decimal_up(row[key], 5) if row.get(key) is not None else "-"
                print(f"{kind:<7} {depth:>5} {width:>5} {up('naive'):>9} {up('monolithic'):>9} "
                      f"{show('monolithic_seconds', '7.1f'):>7} {up('chordal'):>9} {show('chordal_seconds', '7.1f'):>7} "
                      f"{show('clarabel_seconds', '10.1f'):>10} {row['lower']:>8.4g} {up('game_best'):>9} "
                      f"{show('game_evaluations_to_neuron', '5d'):>5} {show('game_seconds', '7.1f'):>7}", flush=True)
                (RESULTS / args.output).write_text(json.dumps(rows, indent=1))
    print(f"wrote {RESULTS / args.output}")


if __name__ == "__main__":
    main()
