"""Baselines on the same model, images and query budget as the game.

* ``pgd`` (white-box): l2 projected gradient descent [MMSTV18] inside a ball whose radius is found by
  bisection (the smallest radius at which PGD succeeds, to 1/16 of the bracket); gradients are
  counted as queries. This is the only method here that sees inside the model.
* ``simba`` (black-box): SimBA with the pixel basis [GGYWW19]: coordinates in random order, each
  tried at -eps then +eps, kept when the true class's probability drops; stops on misclassification.
* ``square`` (black-box): Square Attack, l-infinity version [ACFH20]: vertical-stripe start, then
  random squares set to +-eps per channel, kept when the margin loss drops, square size p(i) from
  the paper's schedule; stops on misclassification.
* ``random`` (black-box): random pixel search: pixels drawn uniformly, moved by +-tau towards the
  end of [0, 1] with more room, until misclassified; restarts keep the closest.

Why hand-written: ``torchattacks`` 3.5.1 has Square and SimBA-like attacks but pins ``requests~=2.25.1``
and pulls ``torchvision``, downgrading shared dependencies of this project; each attack here is a
few dozen lines from its paper. All black-box methods see the model only through :class:`BlackBox`.

[MMSTV18] Madry et al., "Towards Deep Learning Models Resistant to Adversarial Attacks", ICLR 2018.
[GGYWW19] Guo et al., "Simple Black-box Adversarial Attacks", ICML 2019.
[ACFH20] Andriushchenko, Croce, Flammarion, Hein, "Square Attack", ECCV 2020.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from games.feature_guided.blackbox import BlackBox


@dataclass(frozen=True)
class BaselineResult:
    """An attack's closest adversarial image (None: none found), the queries it used and its time."""

    adversarial: np.ndarray | None
    queries: int
    seconds: float


def _wrong(probs: np.ndarray, label: int) -> bool:
    return int(np.argmax(probs)) != label


def pgd(model: torch.nn.Module, image: np.ndarray, label: int, *, max_queries: int = 10_000, steps: int = 40,
        radius: float = 4.0, bisections: int = 6, seed: int = 0) -> BaselineResult:
    """White-box l2 PGD (step 2.5 r / steps, random start) at radii bisected in (0, ``radius``]."""
    start = time.perf_counter()
    torch.manual_seed(seed)
    x = torch.as_tensor(image)[None]
    y = torch.tensor([label])
    queries, best = 0, None

    def attack(r: float) -> np.ndarray | None:
        nonlocal queries
        delta = torch.randn_like(x)
        delta = delta / delta.norm() * r * 0.5
        for _ in range(steps):
            if queries >= max_queries:
                return None
            delta.requires_grad_(True)
            logits = model((x + delta).clamp(0, 1))
            queries += 1
            if int(logits.argmax()) != label:
                return (x + delta).clamp(0, 1).detach()[0].numpy()
            (grad,) = torch.autograd.grad(torch.nn.functional.cross_entropy(logits, y), delta)
            with torch.no_grad():
                delta = delta + 2.5 * r / steps * grad / grad.norm().clamp_min(1e-12)
                delta = (x + delta).clamp(0, 1) - x
                delta = delta * min(1.0, r / float(delta.norm().clamp_min(1e-12)))
        with torch.no_grad():
            queries += 1
            final = (x + delta).clamp(0, 1)
            return final[0].numpy() if int(model(final).argmax()) != label else None

    low, high = 0.0, radius
    for _ in range(bisections + 1):
        r = high if best is None else (low + high) / 2
        found = attack(r)
        if found is not None:
            best, high = found, r
        elif best is None:
            break  # nothing even at the largest radius
        else:
            low = r
    return BaselineResult(best, queries, time.perf_counter() - start)


def simba(blackbox: BlackBox, image: np.ndarray, label: int, *, eps: float = 0.2, max_queries: int = 10_000,
          seed: int = 0) -> BaselineResult:
    """SimBA-pixel [GGYWW19, Alg. 1]."""
    start, used = time.perf_counter(), blackbox.queries
    rng = np.random.default_rng(seed)
    x = image.copy()
    p = blackbox(x[None])[0]
    for coordinate in rng.permutation(x.size):
        if _wrong(p, label) or blackbox.queries - used >= max_queries:
            break
        for sign in (-1.0, 1.0):
            trial = x.copy().reshape(-1)
            trial[coordinate] = np.clip(trial[coordinate] + sign * eps, 0, 1)
            if trial[coordinate] == x.reshape(-1)[coordinate]:
                continue
            q = blackbox(trial.reshape(x.shape)[None])[0]
            if q[label] < p[label]:
                x, p = trial.reshape(x.shape), q
                break
    return BaselineResult(x if _wrong(p, label) else None, blackbox.queries - used, time.perf_counter() - start)


def _margin(p: np.ndarray, label: int) -> float:
    return float(np.log(p[label] + 1e-30) - np.log(np.max(np.delete(p, label)) + 1e-30))


def _square_size(i: int, total: int, p_init: float) -> float:
    """[ACFH20]'s schedule of the fraction of pixels a square covers, rescaled to a budget of 10000."""
    i = int(i / total * 10_000)
    for bound, factor in ((10, 1), (50, 2), (200, 4), (500, 8), (1000, 16), (2000, 32), (4000, 64), (6000, 128),
                          (8000, 256)):
        if i <= bound:
            return p_init / factor
    return p_init / 512


def square(blackbox: BlackBox, image: np.ndarray, label: int, *, eps: float = 0.3, max_queries: int = 10_000,
           p_init: float = 0.3, seed: int = 0) -> BaselineResult:
    """Square Attack, l-infinity [ACFH20, Alg. 1 with the l-inf sampling of Alg. 2], restarted at half the
    radius after each success while queries remain (the paper fixes eps; we want the smallest)."""
    start, used = time.perf_counter(), blackbox.queries
    rng = np.random.default_rng(seed)
    best = None
    while blackbox.queries - used < max_queries:
        found = _square_run(blackbox, image, label, eps, max_queries - (blackbox.queries - used), p_init, rng)
        if found is None:
            break
        best, eps = found, eps / 2
    return BaselineResult(best, blackbox.queries - used, time.perf_counter() - start)


def _square_run(blackbox: BlackBox, image: np.ndarray, label: int, eps: float, queries: int, p_init: float,
                rng: np.random.Generator) -> np.ndarray | None:
    c, h, w = image.shape
    used = blackbox.queries
    x = np.clip(image + eps * rng.choice([-1.0, 1.0], size=(c, 1, w)), 0, 1).astype(np.float32)
    p = blackbox(x[None])[0]
    loss = _margin(p, label)
    i = 0
    while not _wrong(p, label) and blackbox.queries - used < queries:
        side = max(1, min(h - 1, int(round(np.sqrt(_square_size(i, queries, p_init) * h * w)))))
        r, s = rng.integers(0, h - side + 1), rng.integers(0, w - side + 1)
        trial = x.copy()
        trial[:, r:r + side, s:s + side] = np.clip(
            image[:, r:r + side, s:s + side] + eps * rng.choice([-1.0, 1.0], size=(c, 1, 1)), 0, 1)
        q = blackbox(trial[None])[0]
        new = _margin(q, label)
        if new < loss:
            x, p, loss = trial, q, new
        i += 1
    return x if _wrong(p, label) else None


def random_pixels(blackbox: BlackBox, image: np.ndarray, label: int, *, tau: float = 1.0, rounds: int = 40,
                  max_queries: int = 10_000, norm_of=None, seed: int = 0) -> BaselineResult:
    """Random pixel search: random +-tau pixel manipulations (towards the roomier end) until misclassified,
    ``rounds`` at most per try; tries repeat until the budget is spent; the closest (by ``norm_of``) is kept."""
    start, used = time.perf_counter(), blackbox.queries
    rng = np.random.default_rng(seed)
    c, h, w = image.shape
    best, best_d = None, np.inf
    while blackbox.queries - used + rounds <= max_queries:
        x, path = image, []
        for _ in range(rounds):
            pixel = int(rng.integers(h * w))
            r, s = divmod(pixel, w)
            sign = 1.0 if x[:, r, s].mean() < 0.5 else -1.0
            x = x.copy()
            x[:, r, s] = np.clip(x[:, r, s] + sign * tau, 0, 1)
            path.append(x)
        probs = blackbox(np.stack(path))
        wrong = [k for k in range(rounds) if _wrong(probs[k], label)]
        if wrong:
            candidate = path[wrong[0]]
            d = norm_of(candidate) if norm_of else float(np.linalg.norm(candidate - image))
            if d < best_d:
                best, best_d = candidate, d
    return BaselineResult(best, blackbox.queries - used, time.perf_counter() - start)
