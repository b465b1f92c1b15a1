"""Engine benchmark: planner cost per iteration as the tree grows, and process-pool throughput.

    python benchmarks/engine.py [--out benchmarks/results/engine.json] [--quick]

Targets (issue: engine core): under 1 ms per planner iteration with the rollout estimator at 10^5
tree nodes; process-pool throughput with k workers on 0.5 s evaluations at least 0.8 k times the
one-worker rate. Prints a table and writes JSON.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from discover.campaign import Campaign
from discover.game import Game
from discover.planner import Planner
from discover.types import EvalContext, Outcome, Player


class WideDeepGame(Game):
    """8 moves a turn, 12 turns: far more states than any tree here, so the tree only grows."""

    name = "bench-wide-deep"
    branching, depth = 8, 12

    def initial_state(self):
        return ()

    def to_move(self, state):
        return Player.TERMINAL if len(state) == self.depth else Player.SEARCHER

    def actions(self, state):
        return range(self.branching)

    def apply(self, state, action):
        return (*state, action)

    def evaluate(self, state, context):
        digest = hashlib.blake2b(bytes(state), digest_size=8).digest()
        return Outcome.ok(int.from_bytes(digest, "big") / 2**64)


def planner_cost(sizes: list[int], window: int) -> list[dict]:
    game = WideDeepGame()
    planner = Planner(game, seed=0)
    rows = []
    context = EvalContext()
    for size in sizes:
        while len(planner.nodes) < size:
            for p in planner.ask(1):
                planner.tell(p, game.evaluate(p.state, context))
        tick = time.perf_counter()
        for _ in range(window):
            for p in planner.ask(1):
                planner.tell(p, game.evaluate(p.state, context))
        per_iteration = (time.perf_counter() - tick) / window
        rows.append({"tree_nodes": size, "ms_per_iteration": 1e3 * per_iteration, "target_ms": 1.0})
        print(f"  planner  {size:>7} nodes  {1e3 * per_iteration:7.3f} ms/iteration", flush=True)
    return rows


def pool_throughput(worker_counts: list[int], per_worker: int, delay: float) -> list[dict]:
    rows = []
    for k in worker_counts:
        with tempfile.TemporaryDirectory() as tmp:
            result = Campaign("toy-faulty", params={"faults": False, "delay": delay, "size": 10_000},
                              budget=per_worker * k, workers=k, backend="process", db=Path(tmp) / "b.db").run()
        assert len(result.history) == per_worker * k and all(e.status == "ok" for e in result.history)
        # worker-side timestamps: from the first evaluation's start to the last one's end, so that
        # starting the worker processes is not counted
        span = max(e.finished for e in result.history) - min(e.started for e in result.history)
        rate = len(result.history) / span
        rows.append({"workers": k, "evaluations": len(result.history), "per_second": rate})
        print(f"  pool     {k} workers  {rate:6.2f} evaluations/s", flush=True)
    base = rows[0]["per_second"]
    for row in rows:
        row["speedup"] = row["per_second"] / base
        row["target_speedup"] = 0.8 * row["workers"]
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/engine.json"))
    parser.add_argument("--quick", action="store_true", help="smaller sizes, for a smoke run")
    args = parser.parse_args()
    sizes = [1_000, 10_000] if args.quick else [1_000, 10_000, 100_000]
    print("measuring ...", flush=True)
    planner_rows = planner_cost(sizes, window=200 if args.quick else 2_000)
    pool_rows = pool_throughput([1, 2, 4], per_worker=3 if args.quick else 8, delay=0.5)

    print("\nplanner cost per iteration (rollout estimator)")
    print(f"{'tree nodes':>10}  {'ms/iter':>8}  {'target':>7}  ok")
    for r in planner_rows:
        print(f"{r['tree_nodes']:>10}  {r['ms_per_iteration']:8.3f}  {'< 1.0':>7}  {r['ms_per_iteration'] < 1.0}")
    print("\nprocess pool on 0.5 s evaluations")
    print(f"{'workers':>7}  {'eval/s':>7}  {'speedup':>7}  {'target':>7}  ok")
    for r in pool_rows:
        print(f"{r['workers']:>7}  {r['per_second']:7.3f}  {r['speedup']:7.2f}  {r['target_speedup']:7.2f}  "
              f"{r['speedup'] >= r['target_speedup']}")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({
        "machine": {"python": sys.version.split()[0], "platform": platform.platform()},
        "planner": planner_rows, "process_pool": pool_rows,
    }, indent=1))
    print(f"\nwrote {args.out}")


if __name__ == "__main__":
    main()
