"""The game's own lower bound: every image the game can make, queried in order of distance.

DeepGame ([WWRHK20], Sec. 7) brackets the maximum safe radius of its *game* (the closest adversarial
example among the images reachable by +-tau manipulations of feature pixels) from below with
"admissible A*". Its published code scores a node by distance + 2 (p1 - p2) / tau, with p1, p2 the two
largest probabilities, which is not a proven underestimate of the distance still needed (no Lipschitz
constant enters it), so the bound it reports is not guaranteed. Here the bound is exact instead:

* each pixel of the features can reach a finite set of channel vectors under +-tau moves clipped to
  [0, 1] (found by breadth-first search, clipping makes it path dependent); an *atom* is one pixel
  moved to one of its reachable vectors, with its cost: 1 (l0), the l1 change, the squared l2 change,
  or the l-infinity change;
* an image of the game is a set of atoms on distinct pixels; its distance combines the atoms' costs
  (a sum, or the maximum for l-infinity), so it never decreases when an atom is added or replaced by
  a costlier one;
* sets are enumerated in nondecreasing cost by the classic k-smallest-subset-sums scheme: atoms sorted
  by cost, successors of a set whose largest atom is j are "append j + 1" and "replace j by j + 1";
  every set is generated exactly once from a heap, and a set whose atoms clash on a pixel is never
  queried (its "append" successors are dropped: they keep the clash);
* images closer than the network's certified radius (when there is one) cannot be adversarial and
  are not queried; the others are queried in batches. When an adversarial one appears, every image of smaller cost has
  been queried, so the game's radius is that image's distance, exactly. When the query budget ends
  first (or the work allowed, ``WORK_PER_QUERY`` sets examined per query: sets inside the certified
  ball are examined but not queried, and cheap pixels make them very many), no game image closer
  than the cheapest unexamined set is adversarial: that is the bound.

A play makes at most ``rounds`` manipulations, so a pixel moves at most ``rounds`` times: its
reachable vectors are searched to that depth, all of them (clipping desynchronises the channels and
float32 rounding jitters the tau grid, so a pixel may reach many vectors; beyond ``MAX_VALUES`` per
pixel the images are too many and no exact answer is claimed, only the certified radius). The total
of the rounds over pixels and the budget eta are ignored (a superset of the images a play can reach
is enumerated), so the bound is a lower bound on the game's radius as played. It says nothing
about images outside the game (other pixels, values off the tau grid): the network's certified
radius (:mod:`.certify`) is the bound on those, and it is never above this one's exact answer.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass

import numpy as np

from games.feature_guided.rules import Rules, distance
from games.outward import down

BATCH = 512  # images per black-box query
WORK_PER_QUERY = 16  # sets taken from the heap per query allowed (skipped and clashing ones included)
MAX_VALUES = 4096  # reachable channel vectors per pixel beyond which the game's images are not enumerated
# the unqueried costs are sums of floats in another order than the images' distances: the bound is
# lowered by this much relative, far more than their rounding differences
ROUNDING = 1e-9


@dataclass(frozen=True)
class GameRadius:
    """No image the game can make lies closer than ``radius`` (in the rules' norm), or, when ``exact``,
    the closest adversarial one lies exactly at ``radius`` (``image`` is it; its distance as computed in
    floating point). ``images``: game images queried; ``queries``: black-box queries spent.

    "Adversarial" means: so classified by the black box as queried, in batches of ``BATCH`` (a float32
    network's outputs move by ~1e-6 with the batch, enough to flip a near tie), and for images inside a
    certified radius, by the network in exact arithmetic (they are skipped, not queried)."""

    radius: float | None
    exact: bool
    images: int
    queries: int
    reason: str = ""
    image: np.ndarray | None = None


def reachable(column: np.ndarray, tau: float, moves: int) -> list[np.ndarray] | None:
    """Channel vectors other than ``column`` (shape (C,)) that up to ``moves`` +-tau moves clipped to
    [0, 1] reach (every one of them), or None when there are more than ``MAX_VALUES``."""
    start = column.astype(np.float32)
    seen = {start.tobytes(): start}
    frontier = [start]
    for _ in range(moves):
        nxt = []
        for x in frontier:
            for sign in (1, -1):
                y = np.clip(x + np.float32(sign * tau), 0.0, 1.0).astype(np.float32)
                if y.tobytes() not in seen:
                    seen[y.tobytes()] = y
                    nxt.append(y)
        if not nxt:
            break
        if len(seen) > MAX_VALUES:
            return None
        frontier = nxt
    return [v for k, v in seen.items() if k != start.tobytes()]


def _atom_cost(before: np.ndarray, after: np.ndarray, norm: str) -> float:
    d = np.abs(after.astype(np.float64) - before.astype(np.float64))
    return {"l0": 1.0, "l1": float(d.sum()), "l2": float((d * d).sum()), "linf": float(d.max())}[norm]


def _distance(cost: float, norm: str) -> float:
    return math.sqrt(cost) if norm == "l2" else cost


def game_radius(blackbox, image: np.ndarray, label: int, pixels: list[int], rules: Rules,
                max_queries: int, certified: float | None = None) -> GameRadius:
    """Query the game's images (CHW ``image``, manipulations of ``pixels``) in nondecreasing distance
    until one is misclassified or ``max_queries`` are spent (see the module docstring). Images closer
    than a ``certified`` radius of the network (in the rules' norm) are known not to be adversarial
    and are skipped, not queried."""
    if certified is not None and not certified >= 0:  # NaN would skip every image and claim none is adversarial
        raise ValueError(f"a certified radius must be a number >= 0 (or None), got {certified!r}")
    if rules.magnitude != "discrete":
        return GameRadius(None, False, 0, 0, "continuous magnitudes: the game's images are not a finite set")
    c, h, w = image.shape
    flat = image.reshape(c, h * w)
    atoms = []  # (cost, pixel, channel vector)
    for p in sorted(set(pixels)):
        values = reachable(flat[:, p], rules.tau, rules.rounds)
        if values is None:  # the certified radius still bounds the game's images (they are images)
            return GameRadius(certified, False, 0, 0, f"pixel {p} reaches more than {MAX_VALUES} values in "
                              f"{rules.rounds} moves of tau = {rules.tau}: the game's images are not enumerated")
        for value in values:
            atoms.append((_atom_cost(flat[:, p], value, rules.norm), p, value))
    atoms.sort(key=lambda a: (a[0], a[1]))
    combine = max if rules.norm == "linf" else (lambda a, b: a + b)
    # costs below this are inside the certified ball (squared for l2; strictly below: the ball is open)
    skip = 0.0 if not certified else (float(down(np.array(certified * certified))) if rules.norm == "l2" else certified)
    before = blackbox.queries
    heap: list[tuple[float, tuple[int, ...]]] = [(atoms[0][0], (0,))] if atoms else []
    images = popped = 0
    while heap:
        if blackbox.queries - before >= max_queries or popped >= WORK_PER_QUERY * max_queries:
            # the certified radius bounds the game's images too (they are images)
            bound = max(_distance(heap[0][0], rules.norm) * (1 - ROUNDING), certified or 0.0)
            return GameRadius(bound, False, images, blackbox.queries - before,
                              f"budget spent: no game image closer is adversarial ({images} queried, "
                              f"{popped} examined)")
        batch: list[tuple[float, tuple[int, ...]]] = []
        room = min(BATCH, max_queries - (blackbox.queries - before))
        while heap and len(batch) < room:
            cost, chosen = heapq.heappop(heap)
            popped += 1
            if popped > WORK_PER_QUERY * max_queries:
                heapq.heappush(heap, (cost, chosen))  # not examined: the bound stays at its cost
                break
            last = chosen[-1]
            used = [atoms[i][1] for i in chosen]
            clash_rest = len(set(used[:-1])) < len(used) - 1
            clash_last = used[-1] in used[:-1]
            if last + 1 < len(atoms) and not clash_rest:  # a clash among the others stays in every successor
                nxt = atoms[last + 1][0]
                rest = [atoms[i][0] for i in chosen[:-1]]
                heapq.heappush(heap, (_combined(rest, nxt, combine), chosen[:-1] + (last + 1,)))
                if not clash_last:  # an append keeps the clash of the last atom
                    heapq.heappush(heap, (combine(cost, nxt), chosen + (last + 1,)))
            if not (clash_rest or clash_last) and cost >= skip:
                batch.append((cost, chosen))
        if not batch:
            continue
        stack = np.repeat(flat[None], len(batch), axis=0)
        for k, (_, chosen) in enumerate(batch):
            for i in chosen:
                stack[k, :, atoms[i][1]] = atoms[i][2]
        probs = blackbox(stack.reshape(len(batch), c, h, w))
        images += len(batch)
        wrong = [k for k in range(len(batch)) if int(np.argmax(probs[k])) != label]
        if wrong:
            k = min(wrong, key=lambda k: batch[k][0])
            found = stack[k].reshape(c, h, w)
            return GameRadius(distance(image, found, rules.norm), True, images, blackbox.queries - before,
                              "the closest adversarial image the game can make", found)
    return GameRadius(math.inf, True, images, blackbox.queries - before,
                      "no image the game can make is adversarial")


def _combined(costs: list[float], extra: float, combine) -> float:
    total = extra
    for cost in costs:
        total = combine(total, cost)
    return total
