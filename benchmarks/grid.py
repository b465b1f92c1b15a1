"""Every formulation of a game evaluated once (the grid) against a GP-guided campaign on the same game.

Shared by the game benchmarks: reports the grid's best value, and how many evaluations the campaign
needed to reach it (or its best within its budget).
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import discover
from discover.game import Game
from discover.types import Player

RESULTS = Path(__file__).parent / "results"


def terminal_states(game: Game) -> list:
    """All terminal states of a game with finite, deterministic moves."""
    states = [game.initial_state()]
    terminals = []
    while states:
        state = states.pop()
        if game.to_move(state) is Player.TERMINAL:
            terminals.append(state)
        else:
            states.extend(game.apply(state, a) for a in game.actions(state))
    return terminals


def grid_versus_campaign(game: Game, tag: str, budget: int, timeout: float, seed: int = 0) -> dict:
    terminals = terminal_states(game)
    work = RESULTS / "grids"
    work.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    grid_db = work / f"grid_{tag}.db"
    grid_db.unlink(missing_ok=True)
    # the grid as a campaign of the random method with a budget equal to the grid: every terminal once
    discover.Campaign(game, method="random", surrogate="none", budget=len(terminals), db=grid_db,
                      workers=2, timeout=timeout, seed=seed).run()
    grid_seconds = time.perf_counter() - start
    start = time.perf_counter()
    camp_db = work / f"campaign_{tag}.db"
    camp_db.unlink(missing_ok=True)
    discover.Campaign(game, surrogate="gp", budget=budget, db=camp_db, workers=2, timeout=timeout, seed=seed).run()
    camp_seconds = time.perf_counter() - start
    out = {"game": tag, "grid_size": len(terminals), "grid_seconds": round(grid_seconds, 1),
           "campaign_budget": budget, "campaign_seconds": round(camp_seconds, 1), **summarise(grid_db, camp_db)}
    print(json.dumps(out, indent=1))
    return out


def summarise(grid_db: Path, campaign_db: Path) -> dict:
    """The grid's best, and when (if ever) the campaign's best-so-far reached it."""
    with discover.open(grid_db) as store:
        grid = store.evaluations(order="best", status="ok")
        grid_count = store.count()
    grid_best = grid[0].value if grid else None
    with discover.open(campaign_db) as store:
        history = store.evaluations()
    best, reached = None, None
    for i, outcome in enumerate((record.outcome() for record in history), 1):
        if outcome.value is not None and (best is None or outcome.value > best):
            best = outcome.value
        if reached is None and best is not None and grid_best is not None and best >= grid_best - 1e-7 * abs(grid_best):
            reached = i
    return {"grid_evaluated": grid_count, "grid_ok": len(grid), "grid_best": grid_best,
            "grid_best_formulation": grid[0].label if grid else None, "campaign_evaluations": len(history),
            "campaign_best": best, "campaign_evaluations_to_grid_best": reached}
