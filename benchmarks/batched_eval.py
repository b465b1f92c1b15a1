"""Leaf-evaluation throughput of the feature-guided game: ``evaluate_batch`` against ``evaluate`` in a loop.

The same random completions of the game (``game.random_completion``) are evaluated one at a time and in
batches of 1, 8, 32 and 64 states (``--batches``), each run on a fresh game (no cached images or
probabilities), on the demo MLP and the demo CNN. Torch runs on one thread (``torch.set_num_threads(1)``)
so that neither path gains from cores the other leaves idle; the black box is on CUDA when torch sees
a GPU, else on CPU. The defaults (digit 2, l2 budget 8) make a third (MLP) to two thirds (CNN) of the
plays find an adversarial example, so both the failure path and the bisection with its picture files
are timed. Each mode reports its fastest of ``--repeats`` runs: on a shared machine other load only
ever adds time (all runs are in the JSON). Then the whole path: UCT campaigns of ``--campaign-budget``
evaluations on the CNN, inline and on the process backend (2 workers), with the game's ``batch_limit``
(64: the campaign asks the planner for 64 leaves per worker and sends them as one task) against 1,
reporting evaluations per second (planner, dispatch and store included). Prints tables and writes JSON.

    python benchmarks/batched_eval.py [--states 256] [--repeats 5] [--batches 1 8 32 64]
                                      [--campaign-budget 512] [--out benchmarks/results/batched_eval.json]
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from discover.types import EvalContext, Outcome
from games.feature_guided import BlackBox, FeatureGuidedGame, Rules, Target
from games.feature_guided.data import digits
from games.feature_guided.models import demo_model

MODELS = {"mlp": "demo", "cnn": "demo-cnn"}


def make_game(network: torch.nn.Module, image: np.ndarray, label: int, rules: Rules, device: str,
              folder: Path) -> FeatureGuidedGame:
    """A fresh game on ``device`` (the game built from parameters always queries on CPU), its certificate
    computed before any timing (the LipSDP bound is cached per process after the first game)."""
    game = FeatureGuidedGame.on(Target(BlackBox(network, device=device), image, label, rules, network), folder)
    _ = game.target.certificate
    return game


def timed(game: FeatureGuidedGame, states: list[tuple], batch: int | None) -> tuple[float, int, list[Outcome]]:
    """Seconds to evaluate ``states`` (batch None: ``evaluate`` per state), forward passes, outcomes."""
    context, calls = EvalContext(), game.target.blackbox.calls
    start = time.perf_counter()
    if batch is None:
        outcomes = [game.evaluate(s, context) for s in states]
    else:
        outcomes = [o for k in range(0, len(states), batch) for o in game.evaluate_batch(states[k:k + batch], context)]
    return time.perf_counter() - start, game.target.blackbox.calls - calls, outcomes


def bench_model(name: str, args: argparse.Namespace, device: str, folder: Path) -> list[dict]:
    """Rows of the table for one model: each batch size against the loop, on the same states."""
    images, labels = digits("test")
    network = demo_model(MODELS[name])
    rules = Rules("l2", "cooperative", 1.0, args.eta, args.rounds, "sift", 6, 16)

    def fresh() -> FeatureGuidedGame:
        return make_game(network, images[args.image], int(labels[args.image]), rules, device, folder)

    draw = fresh()
    rng = np.random.default_rng(args.seed)
    states = [draw.random_completion(draw.initial_state(), rng) for _ in range(args.states)]
    draw.evaluate(states[0], EvalContext())  # warm-up of both forward-pass shapes, off the clock
    draw.evaluate_batch(states[:max(args.batches)], EvalContext())
    modes: list[int | None] = [None, *args.batches]
    seconds: dict[int | None, list[float]] = {m: [] for m in modes}
    passes: dict[int | None, int] = {}
    values: dict[int | None, list[float]] = {}
    found = 0
    for _ in range(args.repeats):  # modes interleaved, so drift in the machine's load hits all alike
        for mode in modes:
            elapsed, passes[mode], outcomes = timed(fresh(), states, mode)
            seconds[mode].append(elapsed)
            values[mode] = [o.value for o in outcomes]
            found = sum(o.artifacts["found"] for o in outcomes) if mode is None else found
    loop = len(states) / min(seconds[None])
    rows = []
    for mode in args.batches:
        gap = float(np.max(np.abs(np.subtract(values[mode], values[None]))))
        rate = len(states) / min(seconds[mode])
        rows.append({"model": name, "device": device, "batch": mode, "states": len(states), "found": found,
                     "loop_states_per_s": loop, "batch_states_per_s": rate, "speedup": rate / loop,
                     "loop_forward_passes": passes[None], "batch_forward_passes": passes[mode],
                     "max_value_difference": gap, "seconds_loop": seconds[None], "seconds_batch": seconds[mode]})
    return rows


def bench_campaigns(args: argparse.Namespace) -> list[dict]:
    """Evaluations per second of whole campaigns, batched (the game's batch_limit) and not (1)."""
    from discover import Campaign
    from discover.game import load_game

    def game(limit: int | None) -> FeatureGuidedGame:
        made = load_game("feature-guided", model=MODELS["cnn"], image=args.image, eta=args.eta)
        made.batch_limit = made.batch_limit if limit is None else limit
        return made

    batched = game(None).batch_limit
    rows = []
    for backend, workers in (("inline", 1), ("process", 2)):
        rates: dict[int, list[float]] = {1: [], batched: []}
        for _ in range(args.repeats):  # interleaved, as above
            for limit in rates:
                with tempfile.TemporaryDirectory() as folder:
                    start = time.perf_counter()
                    Campaign(game(limit), budget=args.campaign_budget, backend=backend, workers=workers,
                             surrogate="none", seed=args.seed, db=Path(folder) / "c.db").run()
                    rates[limit].append(args.campaign_budget / (time.perf_counter() - start))
        rows.append({"backend": backend, "workers": workers, "budget": args.campaign_budget, "batch_limit": batched,
                     "unbatched_evals_per_s": max(rates[1]), "batched_evals_per_s": max(rates[batched]),
                     "speedup": max(rates[batched]) / max(rates[1]), "runs": {str(k): v for k, v in rates.items()}})
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--states", type=int, default=256, help="random completions evaluated per run")
    parser.add_argument("--repeats", type=int, default=5, help="runs per mode (the fastest is reported)")
    parser.add_argument("--image", type=int, default=2, help="digits test image attacked")
    parser.add_argument("--eta", type=float, default=8.0, help="l2 distance budget")
    parser.add_argument("--rounds", type=int, default=40, help="most manipulations per play")
    parser.add_argument("--batches", type=int, nargs="+", default=[1, 8, 32, 64], help="batch sizes")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--campaign-budget", type=int, default=512, help="evaluations per campaign (0: skip)")
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "batched_eval.json"))
    args = parser.parse_args()
    if args.states < 1 or args.repeats < 1 or min(args.batches) < 1:
        parser.error("--states, --repeats and --batches must be positive")
    torch.set_num_threads(1)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    detail = torch.cuda.get_device_name(0) if device == "cuda" else platform.processor() or platform.machine()
    print(f"device: {device} ({detail}); torch threads: {torch.get_num_threads()}; {args.states} states, "
          f"fastest of {args.repeats} runs each")
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        for name in MODELS:
            rows += bench_model(name, args, device, Path(folder))
    print(f"{'model':<5} {'batch':>5} {'found':>7} {'loop st/s':>10} {'batch st/s':>11} {'speedup':>8} "
          f"{'passes loop':>12} {'passes batch':>13} {'max |dv|':>9}")
    for r in rows:
        print(f"{r['model']:<5} {r['batch']:>5} {r['found']:>3}/{r['states']:<3} {r['loop_states_per_s']:>10.0f} "
              f"{r['batch_states_per_s']:>11.0f} {r['speedup']:>7.2f}x {r['loop_forward_passes']:>12} "
              f"{r['batch_forward_passes']:>13} {r['max_value_difference']:>9.1e}")
    campaigns = bench_campaigns(args) if args.campaign_budget > 0 else []
    if campaigns:
        print(f"\ncampaigns on the CNN, {args.campaign_budget} evaluations, fastest of {args.repeats}:")
        print(f"{'backend':<8} {'workers':>7} {'batch 1 ev/s':>13} {'batched ev/s':>13} {'speedup':>8}")
        for r in campaigns:
            print(f"{r['backend']:<8} {r['workers']:>7} {r['unbatched_evals_per_s']:>13.1f} "
                  f"{r['batched_evals_per_s']:>13.1f} {r['speedup']:>7.2f}x")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"device": device, "device_name": detail, "torch_threads": torch.get_num_threads(),
                               "torch": torch.__version__, "image": args.image, "eta": args.eta,
                               "rounds": args.rounds, "seed": args.seed, "repeats": args.repeats,
                               "batches": args.batches, "rows": rows, "campaigns": campaigns},
                              indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
