"""Feature-guided game against baselines on digits test images, with the same model and query budget.

For each of the first ``--images`` correctly classified test digits (16x16) and each method: whether a
misclassified image was found (re-queried on a fresh black box), its l2 and l0 distances, the queries
and the seconds used. For the game also the bracket [certified l2 radius, found distance] (LipSDP for
the MLP, the naive bound for the CNN) and the ratio found / certified, against DeepGame's showcase
(MNIST, l2: ~2.8 found against ~0.0135 certified after 300 s per image, a ~200x gap). A last section
measures black-box throughput (queries per second) batched against one image per forward pass.

    OMP_NUM_THREADS=1 python benchmarks/feature_guided.py            # ~10 min on one core
    python benchmarks/feature_guided.py --images 5 --plays 300      # a quick look
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np
import torch

from games.feature_guided import BlackBox, distance, find_adversarial
from games.feature_guided.baselines import pgd, random_pixels, simba, square
from games.feature_guided.certify import as_network, lipschitz
from games.feature_guided.data import digits
from games.feature_guided.models import demo_model

DEEPGAME = {"found_l2": 2.8, "certified_l2": 0.0135, "seconds": 300.0}


def game(player2: str, extractor: str, count: int, magnitude: str = "discrete", exhaustive: bool = False):
    def run(model, image, label, queries, plays, bound, exhaustive_queries):
        # the exhaustive lower bound runs after the play, on a query budget of its own (not in ``queries``)
        r = find_adversarial(model, image, label, player2=player2, extractor=extractor, count=count, budget=plays,
                             max_queries=queries, lipschitz=bound, magnitude=magnitude,
                             exhaustive=exhaustive_queries if exhaustive else 0)
        extra = {"certified_l2": r.certified_radius}
        if exhaustive:
            extra.update(game_radius=r.game_radius, game_exact=r.game_exact, game_queries=r.game_queries)
        return (r.adversarial.numpy() if r.found else None), r.queries - r.game_queries, r.seconds, extra
    return run


def baseline(attack, white_box: bool = False):
    def run(model, image, label, queries, plays, bound, exhaustive_queries):
        r = attack(model if white_box else BlackBox(model, device="cpu"), image, label, max_queries=queries)
        return r.adversarial, r.queries, r.seconds, {}
    return run


METHODS = {
    "game coop (sift)": game("cooperative", "sift", 6, exhaustive=True),
    "game coop continuous (sift)": game("cooperative", "sift", 6, magnitude="continuous"),
    "game random (sift)": game("random", "sift", 6),
    "game coop (grid)": game("cooperative", "grid", 16),
    "pgd (white-box)": baseline(pgd, white_box=True),
    "simba": baseline(simba),
    "square (linf)": baseline(square),
    "random pixels": baseline(random_pixels),
}


def median(values):
    return statistics.median(values) if values else None


def throughput(model, images: np.ndarray, device: str) -> dict:
    """Queries per second through the black box: all images in batches of 512, and one per call."""
    out = {}
    for name, batch in (("batched", 512), ("unbatched", 1)):
        box = BlackBox(model, device=device, batch_size=batch)
        box(images[:batch])  # warm up
        n = len(images) if batch > 1 else min(len(images), 500)
        start = time.perf_counter()
        box(images[:n])
        out[name] = n / (time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", choices=("demo", "demo-cnn"))
    parser.add_argument("--images", type=int, default=50)
    parser.add_argument("--queries", type=int, default=10_000, help="query budget per image and method")
    parser.add_argument("--plays", type=int, default=100_000, help="most plays of the game per image (the query "
                        "budget ends it first at the default)")
    parser.add_argument("--exhaustive", type=int, default=1000, help="queries of the game's exhaustive lower bound")
    parser.add_argument("--methods", nargs="*", default=list(METHODS))
    parser.add_argument("--out", default=str(Path(__file__).parent / "results" / "feature_guided.json"))
    args = parser.parse_args()

    model = demo_model(args.model)
    images, labels = digits("test")
    with torch.no_grad():
        correct = np.flatnonzero(model(torch.as_tensor(images)).argmax(1).numpy() == labels)[: args.images]
    start = time.perf_counter()
    bound = lipschitz(as_network(model, (1, 16, 16)))
    bound_seconds = time.perf_counter() - start
    print(f"{args.model}: certified l2 Lipschitz bound {bound[0]:.6g} ({bound[1]}, {bound_seconds:.1f} s, once)")

    rows, per_image = {}, {m: [] for m in args.methods}
    check = BlackBox(model, device="cpu")  # a separate box re-queries every answer (not counted)
    for name in args.methods:
        for i in correct:
            adversarial, queries, seconds, extra = METHODS[name](model, images[i], int(labels[i]), args.queries,
                                                                 args.plays, bound, args.exhaustive)
            confirmed = adversarial is not None and int(np.argmax(check(adversarial[None])[0])) != int(labels[i])
            per_image[name].append({
                "image": int(i), "found": confirmed, "queries": int(queries), "seconds": seconds,
                "l2": distance(images[i], adversarial, "l2") if confirmed else None,
                "l0": distance(images[i], adversarial, "l0") if confirmed else None,
                "certified_l2": extra.get("certified_l2"), **extra})
        found = [r for r in per_image[name] if r["found"]]
        row = {"success": len(found) / len(correct), "median_l2": median([r["l2"] for r in found]),
               "median_l0": median([r["l0"] for r in found]),
               "median_queries": median([r["queries"] for r in per_image[name]]),
               "median_seconds": median([r["seconds"] for r in per_image[name]])}
        bracketed = [r for r in found if r["certified_l2"] is not None]
        if bracketed:
            row["median_certified_l2"] = median([r["certified_l2"] for r in bracketed])
            row["median_ratio"] = median([r["l2"] / r["certified_l2"] for r in bracketed if r["certified_l2"] > 0])
            row["bracket_violations"] = sum(r["certified_l2"] > r["l2"] for r in bracketed)
        searched = [r for r in found if r.get("game_radius") is not None]
        if searched:
            row["median_game_radius"] = median([r["game_radius"] for r in searched])
            row["median_game_ratio"] = median([r["l2"] / r["game_radius"] for r in searched])
            row["game_bracket_violations"] = sum(r["game_radius"] > r["l2"] + 1e-9 for r in searched)
            row["game_exact"] = sum(bool(r["game_exact"]) for r in searched)
        rows[name] = row
        print(f"  {name}: done ({sum(r['seconds'] for r in per_image[name]):.0f} s)", flush=True)

    print(f"\n{len(correct)} correctly classified digits test images, {args.queries} queries per image and method"
          f" (game: also at most {args.plays} plays)\n")
    print(f"{'method':28} {'success':>8} {'med l2':>8} {'med l0':>7} {'med queries':>12} {'med s':>7} "
          f"{'med cert l2':>12} {'found/cert':>11} {'med game lb':>12} {'found/game lb':>14}")
    for name, r in rows.items():
        fmt = lambda v, f: "-" if v is None else format(v, f)  # noqa: E731
        print(f"{name:28} {r['success']:>8.0%} {fmt(r['median_l2'], '.3f'):>8} {fmt(r['median_l0'], '.0f'):>7} "
              f"{fmt(r['median_queries'], '.0f'):>12} {fmt(r['median_seconds'], '.2f'):>7} "
              f"{fmt(r.get('median_certified_l2'), '.4f'):>12} {fmt(r.get('median_ratio'), '.1f'):>11} "
              f"{fmt(r.get('median_game_radius'), '.4f'):>12} {fmt(r.get('median_game_ratio'), '.1f'):>14}")
    print(f"\nDeepGame showcase (MNIST, l2, 300 s per image): found ~{DEEPGAME['found_l2']}, certified "
          f"~{DEEPGAME['certified_l2']}, ratio ~{DEEPGAME['found_l2'] / DEEPGAME['certified_l2']:.0f}x")
    speed = {"cpu": throughput(model, images, "cpu")}
    if torch.cuda.is_available():
        speed["cuda"] = throughput(model, np.tile(images, (20, 1, 1, 1)), "cuda")
    for device, qps in speed.items():
        print(f"queries per second on {device}: batched {qps['batched']:.0f}, "
              f"one image per call {qps['unbatched']:.0f}")

    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"model": args.model, "images": len(correct), "queries": args.queries,
                               "plays": args.plays, "lipschitz": {"bound": bound[0], "method": bound[1],
                                                                  "seconds": bound_seconds},
                               "methods": rows, "per_image": per_image, "throughput": speed,
                               "deepgame_showcase": DEEPGAME}, indent=1))
    print(f"written {out}")


if __name__ == "__main__":
    main()
