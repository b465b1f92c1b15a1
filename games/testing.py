"""Checks every game must pass; each game's tests call :func:`check_game` on a cheap instance.

Random play to terminal states, and on the way: states hashable, immutable under ``apply`` and
picklable; state keys stable; chance probabilities valid; ``encode`` matching ``features``; and,
when asked, ``evaluate`` returning a proper :class:`~discover.types.Outcome`.
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np

from discover.dispatch import run_evaluation
from discover.game import Game, sample_action
from discover.types import Job, Outcome, Player, Sampler


def check_game(game: Game, *, playouts: int = 20, evaluate: bool = True, seed: int = 0) -> list:
    """Play ``playouts`` random games through the public API, asserting the protocol; returns the terminals."""
    rng = np.random.default_rng(seed)
    assert game.name, "a game needs a name"
    values = game.parameters()
    assert set(values) == {p.name for p in game.params}, "parameters() must report every declared parameter"
    terminals = []
    for _ in range(playouts):
        state = game.initial_state()
        for _depth in range(10_000):
            hash(state)
            assert pickle.loads(pickle.dumps(state)) == state, f"state {state!r} does not survive pickling"
            assert game.state_key(state) == game.state_key(copy.deepcopy(state)), "state_key must be stable"
            player = game.to_move(state)
            assert isinstance(player, Player), f"to_move must return a Player, got {player!r}"
            if player is Player.TERMINAL:
                break
            before = copy.deepcopy(state)
            if player is Player.CHANCE:
                outcomes = list(game.chance_outcomes(state))
                probs = [p for _, p in outcomes]
                assert outcomes and min(probs) >= 0 and math.isclose(sum(probs), 1.0, abs_tol=1e-9)
                action = outcomes[int(rng.choice(len(outcomes), p=np.array(probs) / sum(probs)))][0]
            else:
                moves = game.actions(state)
                assert isinstance(moves, Sampler) or len(moves) > 0, f"no moves at non-terminal {state!r}"
                action = sample_action(moves, rng)
            hash(action)
            nxt = game.apply(state, action)
            assert state == before, f"apply() changed the state it was given ({before!r} -> {state!r})"
            state = nxt
        else:
            raise AssertionError("random play did not reach a terminal state in 10000 moves")
        terminals.append(state)
    features = game.features()
    for state in terminals:
        if features:
            code = list(game.encode(state))
            assert len(code) == len(features), f"encode gives {len(code)} slots, features() declares {len(features)}"
            assert all(math.isfinite(float(x)) for x in code)
    if evaluate:
        for i, state in enumerate(terminals[:3]):
            result = run_evaluation(game, Job(i, state, game.resources(state)), worker="check", device="cpu")
            assert isinstance(result.outcome, Outcome)
            assert result.outcome.status.value != "failed", f"evaluation failed: {result.outcome.message}"
    return terminals
