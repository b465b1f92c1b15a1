"""Check a game against its protocol before a campaign spends budget on it.

Random play to terminal states, and on the way: states hashable, unchanged by ``apply`` and
picklable; state keys stable; moves present at every non-terminal state; chance probabilities
valid; starting states complete and legal; ``encode`` matching ``features``; and, when asked,
``evaluate`` returning an :class:`~discover.types.Outcome` that is not a failure. The first problem
found is raised as one :class:`~discover.errors.GameError` line; ``discover check GAME`` runs the
full check and ``discover run`` a light one (a few playouts, no evaluation).
"""

from __future__ import annotations

import copy
import math
import pickle

import numpy as np

from discover.dispatch import ProcessBackend, run_batch
from discover.errors import GameError
from discover.game import Game, sample_action, sample_chance, starting_states
from discover.types import Job, Outcome, Player, State, Status, is_sampler


def _require(ok: bool, game: Game, message: str) -> None:
    if not ok:
        raise GameError(f"game {game.name!r}: {message}")


def _check_state(game: Game, state: State) -> None:
    try:
        hash(state)
    except TypeError:
        raise GameError(f"game {game.name!r}: state {state!r} is unhashable; use tuples or frozen dataclasses") from None
    try:
        again = pickle.loads(pickle.dumps(state))
    except Exception as exc:
        raise GameError(f"game {game.name!r}: state {state!r} cannot be pickled ({exc})") from None
    _require(again == state, game, f"state {state!r} does not survive pickling")
    _require(game.state_key(state) == game.state_key(copy.deepcopy(state)), game, "state_key() is not stable")


def _playout(game: Game, rng: np.random.Generator, max_moves: int) -> State:
    state = game.initial_state()
    for _ in range(max_moves):
        _check_state(game, state)
        player = game.to_move(state)
        _require(isinstance(player, Player), game, f"to_move() must return a Player, got {player!r}")
        if player is Player.TERMINAL:
            return state
        before = copy.deepcopy(state)
        if player is Player.CHANCE:
            outcomes = list(game.chance_outcomes(state))
            probs = [p for _, p in outcomes]
            _require(bool(outcomes) and min(probs) >= 0 and math.isclose(sum(probs), 1.0, abs_tol=1e-6), game,
                     f"chance outcomes at {state!r} must be non-negative probabilities summing to 1")
            action = sample_chance(outcomes, rng)
        else:
            moves = game.actions(state)
            _require(is_sampler(moves) or len(moves) > 0, game, f"no moves at non-terminal state {state!r}")
            action = sample_action(moves, rng)
        try:
            hash(action)
        except TypeError:
            raise GameError(f"game {game.name!r}: move {action!r} is unhashable") from None
        nxt = game.apply(state, action)
        _require(state == before, game, f"apply() changed the state it was given ({before!r} -> {state!r})")
        state = nxt
    raise GameError(f"game {game.name!r}: random play did not reach a terminal state in {max_moves} moves")


CHECKED_EVALUATIONS = 3  # terminals that check_game evaluates (evaluations may be expensive)


def check_game(game: Game, *, playouts: int = 20, evaluate: bool = True, seed: int = 0,
               max_moves: int = 10_000, timeout: float | None = None) -> list[State]:
    """Play ``playouts`` random games through the public API checking the protocol; the terminals.

    With ``evaluate``, ``CHECKED_EVALUATIONS`` of them are evaluated too: in a worker process killed
    after ``timeout`` seconds when one is given, else here.
    """
    rng = np.random.default_rng(seed)
    _require(bool(game.name), game, "a game needs a name")
    _require(set(game.parameters()) == {p.name for p in game.params}, game,
             "parameters() must report every declared parameter")
    limit = game.batch_limit
    _require(isinstance(limit, int) and not isinstance(limit, bool) and limit >= 1, game,
             f"batch_limit must be a positive int, got {limit!r}")
    terminals = [_playout(game, rng, max_moves) for _ in range(playouts)]
    for state in starting_states(game):  # complete, legal, moves known (a GameError line otherwise)
        _check_state(game, state)
    features = game.features()
    if features:
        for state in terminals:
            code = list(game.encode(state))
            _require(len(code) == len(features), game,
                     f"encode() gives {len(code)} slots, features() declares {len(features)}")
            _require(all(math.isfinite(float(x)) for x in code), game, f"encode({state!r}) is not finite")
    if evaluate:
        for state, outcome in zip(terminals, _evaluate(game, terminals[:CHECKED_EVALUATIONS], timeout)):
            _require(outcome.status is not Status.FAILED, game,
                     f"evaluating {game.describe_state(state)} failed: {outcome.message}")
            if outcome.status is Status.TIMEOUT:
                raise GameError(f"game {game.name!r}: evaluating {game.describe_state(state)} took longer than "
                                f"{timeout:g} s")
    return terminals


def _evaluate(game: Game, states: list[State], timeout: float | None) -> list[Outcome]:
    """Outcomes of ``states``: in this process, or, with a ``timeout``, in a worker process that is
    killed at the limit (so a game that hangs or crashes its process is reported, not obeyed).
    A game that evaluates in batches evaluates them as one batch."""
    jobs = [Job(i, s, game.resources(s), timeout_seconds=timeout) for i, s in enumerate(states)]
    tasks = [jobs] if game.batch_limit > 1 else [[job] for job in jobs]
    if timeout is None:
        return [r.outcome for task in tasks for r in run_batch(game, task, worker="check", device="cpu")]
    backend = ProcessBackend(1)
    try:
        backend.start(game)
    except ValueError as exc:
        raise GameError(f"game {game.name!r}: {exc}") from None
    try:
        return [f.result().outcome for task in tasks for f in backend.submit_batch(task)]
    finally:
        backend.close()
