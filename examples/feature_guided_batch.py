"""Attack a batch of digits with the feature-guided game; write a CSV, one picture per image and a grid.

    python examples/feature_guided_batch.py --images 10 --out fg-batch

Each row of ``results.csv``: the image, its label, the adversarial label, the l2 distance found, the
certified l2 radius (nothing closer can be adversarial), their ratio, queries and seconds. Each
``image-N.png`` shows original | adversarial | difference | SIFT saliency; ``grid.png`` stacks them.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

import numpy as np
import torch

from games.feature_guided import extract, find_adversarial
from games.feature_guided.certify import as_network, lipschitz
from games.feature_guided.data import digits
from games.feature_guided.models import demo_model
from games.feature_guided.pictures import panels, save_grid, save_panels


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="demo", help="demo (MLP) or demo-cnn")
    parser.add_argument("--images", type=int, default=10)
    parser.add_argument("--plays", type=int, default=1000)
    parser.add_argument("--extractor", default="sift", choices=("sift", "saliency", "grid"))
    parser.add_argument("--out", default="fg-batch")
    args = parser.parse_args()

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    model = demo_model(args.model)
    bound = lipschitz(as_network(model, (1, 16, 16)))  # once per model: LipSDP for the MLP
    images, labels = digits("test")
    with torch.no_grad():
        correct = np.flatnonzero(model(torch.as_tensor(images)).argmax(1).numpy() == labels)[: args.images]
    rows = []
    with open(out / "results.csv", "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["image", "label", "adversarial_label", "l2", "certified_l2", "ratio", "queries", "seconds"])
        for i in correct:
            r = find_adversarial(model, images[i], int(labels[i]), budget=args.plays, extractor=args.extractor,
                                 lipschitz=bound)
            ratio = r.distance / r.certified_radius if r.found and r.certified_radius else None
            writer.writerow([int(i), r.label, r.adversarial_label, r.distance, r.certified_radius, ratio, r.queries,
                             round(r.seconds, 2)])
            saliency = extract("sift", images[i]).saliency()
            save_panels(out / f"image-{i}.png", images[i], r.adversarial.numpy(), saliency)
            rows.append(panels(images[i], r.adversarial.numpy(), saliency))
            print(f"image {i}: label {r.label} -> {r.adversarial_label}, bracket "
                  f"[{r.certified_radius:.4f}, {r.distance if r.found else 'none found'}]", flush=True)
    save_grid(out / "grid.png", rows)
    print(f"written {out / 'results.csv'} and {len(rows) + 1} pictures in {out}")


if __name__ == "__main__":
    main()
