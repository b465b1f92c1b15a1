"""The Game protocol and the plugin registry.

A game says whose move it is, which moves are legal, how a move changes the state, and how to
evaluate a finished formulation (the expensive call). Games are found through the entry-point group
``discover.games`` (for installed plugins) or the :func:`register_game` decorator (for scripts).

Each game declares its parameters as :class:`Param` constants and keeps each one as an instance
attribute of the same name, so the engine can record them and re-create the game on resume.
"""

from __future__ import annotations

import abc
import hashlib
import inspect
import logging
import math
from dataclasses import dataclass, replace
from numbers import Real
from typing import Any, ClassVar, Hashable, Literal, Sequence, TypeVar

import numpy as np

from discover.errors import GameError, ParameterError, PluginError, UnknownGameError
from discover.plugins import load_plugin, plugins
from discover.types import (Action, EvalContext, EvaluationRecord, Interval, Objective, Outcome, Player, Resources,
                            Sampler, State, is_sampler)

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "discover.games"

ParamType = Literal["int", "float", "str", "bool", "path"]
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


@dataclass(frozen=True)
class Param:
    """A declared game parameter: the CLI lists it and validates values against it."""

    name: str
    type: ParamType
    default: Any = None
    help: str = ""
    choices: tuple[Any, ...] | None = None
    required: bool = False

    def coerce(self, value: Any) -> Any:
        """The value converted to this parameter's type (strings come from the command line)."""
        try:
            if self.type == "int":
                if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
                    raise ValueError
                out: Any = int(value)
            elif self.type == "float":
                if isinstance(value, bool):
                    raise ValueError
                out = float(value)
            elif self.type == "bool":
                if isinstance(value, bool):
                    out = value
                elif str(value).strip().lower() in _TRUE:
                    out = True
                elif str(value).strip().lower() in _FALSE:
                    out = False
                else:
                    raise ValueError
            elif self.type in ("str", "path"):
                if not isinstance(value, (str, int, float)) or isinstance(value, bool):
                    raise ValueError
                out = str(value)
            else:  # pragma: no cover - guarded by the Literal
                raise ValueError
        except (TypeError, ValueError):
            raise ParameterError(
                f"parameter {self.name!r} expects {self.type}, got {value!r}"
            ) from None
        if self.choices is not None and out not in self.choices:
            raise ParameterError(
                f"parameter {self.name!r} must be one of {', '.join(map(str, self.choices))}; got {out!r}"
            )
        return out


@dataclass(frozen=True)
class Feature:
    """One slot of a game's fixed-length encoding, so surrogates know how to model it."""

    name: str
    kind: Literal["numeric", "integer", "categorical"]
    low: float = 0.0
    high: float = 1.0
    choices: tuple[Any, ...] = ()


class Game(abc.ABC):
    """Base class of all games. Subclasses fill in the abstract methods and the class constants.

    Values are maximised by the SEARCHER and minimised by the OPPONENT. States and actions must be
    immutable, hashable and picklable (they travel to worker processes and into the store).
    """

    name: ClassVar[str] = ""
    params: ClassVar[tuple[Param, ...]] = ()
    expensive: ClassVar[bool] = False  # evaluations take long enough to be worth a surrogate
    # the surrogate a campaign uses when none is named (None: ``gp`` for expensive games, else rollouts)
    surrogate: ClassVar[str | None] = None
    # the per-evaluation limit when a campaign gives none (None: the engine's one hour)
    default_timeout: ClassVar[float | None] = None
    # > 1: the dispatcher hands evaluate_batch up to this many terminal states at once
    batch_limit: ClassVar[int] = 1
    # what the value measures, in the game's words: a bound to push down is stored negated and
    # declared Objective("... bound", "min"), so every output shows the bound itself
    quantity: ClassVar[Objective] = Objective()

    # -- rules -------------------------------------------------------------------------------
    @abc.abstractmethod
    def initial_state(self) -> State: ...

    @abc.abstractmethod
    def to_move(self, state: State) -> Player: ...

    @abc.abstractmethod
    def actions(self, state: State) -> Sequence[Action] | Sampler:
        """The legal moves: a finite sequence, or a :class:`Sampler` for continuous ones."""

    def chance_outcomes(self, state: State) -> Sequence[tuple[Action, float]]:
        """At a CHANCE state: the moves and their probabilities (summing to 1)."""
        raise NotImplementedError(f"game {self.name!r} has chance states but no chance_outcomes()")

    @abc.abstractmethod
    def apply(self, state: State, action: Action) -> State: ...

    # -- evaluation --------------------------------------------------------------------------
    @abc.abstractmethod
    def evaluate(self, state: State, context: EvalContext) -> Outcome:
        """The expensive call on a TERMINAL state; runs on a dispatch backend."""

    def evaluate_batch(self, states: Sequence[State], context: EvalContext) -> Sequence[Outcome]:
        """Evaluate up to :attr:`batch_limit` terminal states in one call, one Outcome per state.

        Cheap, GPU-bound games override it to share one forward pass among many states; the
        dispatcher groups pending leaves only for games whose ``batch_limit`` exceeds 1. The one
        ``context`` carries the first state's seed: a random evaluation should derive its randomness
        from each state as well. The default evaluates the states one after another.
        """
        return [self.evaluate(state, context) for state in states]

    def resources(self, state: State) -> Resources:
        return Resources()

    def kind(self, state: State) -> Hashable | None:
        """What kind of formulation the complete ``state`` is (its solver and basis, say), or None.
        A kind whose evaluations all failed, twice or more, gets a shorter time limit
        (:mod:`discover.limits`): it will most likely fail again, and the time is better spent on
        kinds that work. The default: no kinds."""
        return None

    def starting_states(self) -> Sequence[State]:
        """Complete formulations a campaign submits before its method proposes any: what a
        researcher would try first (the library's own default, say), so that a search never ends
        worse than that one call unless it fails, as SMAC puts the default configuration in its
        initial design. Every method learns them as its own evaluations (MCTS, flat BO and random
        search directly; TPE, Ax and SMAC as trials attached with their moves, where the game can
        tell them and, for Ax and SMAC, the decisions they pass are among their parameters). Each
        must be a terminal state whose moves :meth:`moves_of` can tell, written as the game offers
        them. The default: none."""
        return ()

    def verify(self, state: State, outcome: Outcome) -> str | None:
        """Re-check an OK outcome's certificate independently of the solver.

        Return None when it holds, or the reason it does not (the evaluation is then recorded
        as failed with that reason). The default trusts the evaluation.
        """
        return None

    # -- for surrogates ----------------------------------------------------------------------
    def features(self) -> tuple[Feature, ...]:
        """The slots of :meth:`encode`; empty when the game offers no encoding."""
        return ()

    def encode(self, state: State) -> Sequence[float]:
        """A fixed-length feature vector of a terminal state (categorical slots as indices)."""
        raise NotImplementedError(f"game {self.name!r} does not define encode()")

    def checked_encoding(self, state: State) -> list[float] | None:
        """``encode(state)`` as floats, or None: quietly for a game without features, logged when it
        raises or is not one finite number per feature (a broken encoder loses that encoding, never
        the evaluation or the search)."""
        width = len(self.features())
        if not width:
            return None
        try:
            row = [float(x) for x in self.encode(state)]
        except Exception as exc:
            log.warning("encode() failed on %r: %s", state, exc)
            return None
        if len(row) != width or not all(map(math.isfinite, row)):
            log.warning("encode() gave an invalid vector for %r (%d values for %d features)", state, len(row), width)
            return None
        return row

    # -- helpers with sensible defaults ------------------------------------------------------
    def upgrade_state(self, state: State) -> State:
        """A complete state as an earlier version of this game stored it, in today's form.

        A game that adds a move to its formulations overrides this, so that a campaign stored
        before the change resumes (and its report refits its surrogate) with every stored
        evaluation still known: add the new move as its value of before (the default: unchanged).
        Add new slots after the old ones, so that the tree's stored nodes stay valid prefixes."""
        return state

    def state_key(self, state: State) -> str:
        """A key that is stable across processes and runs (``hash()`` of a str is not)."""
        return hashlib.sha1(repr(state).encode()).hexdigest()[:20]

    def describe_state(self, state: State) -> str:
        return repr(state)

    def describe_action(self, action: Action) -> str:
        return f"{action:.4g}" if isinstance(action, float) else str(action)

    def random_completion(self, state: State, rng: np.random.Generator) -> State:
        """Play uniformly random moves (chance moves by their probabilities) to a terminal state."""
        while (player := self.to_move(state)) is not Player.TERMINAL:
            if player is Player.CHANCE:
                action = sample_chance(self.chance_outcomes(state), rng)
            else:
                moves = self.actions(state)
                if not is_sampler(moves) and len(moves) == 0:
                    raise GameError(f"game {self.name!r}: non-terminal state {state!r} has no moves")
                action = sample_action(moves, rng)
            state = self.apply(state, action)
        return state

    def moves_of(self, state: State) -> tuple[Action, ...] | None:
        """The moves from the initial state to terminal ``state``, so that a formulation found
        without a tree (a baseline's) can be placed in one; None when they cannot be told. The
        default recognises a state that is the tuple of its own moves, as in slot-filling games."""
        if not isinstance(state, tuple):
            return None
        current = self.initial_state()
        try:
            for action in state:
                current = self.apply(current, action)
            same = self.state_key(current) == self.state_key(state)
        except Exception:  # not a tuple of moves after all
            return None
        return state if same and self.to_move(current) is Player.TERMINAL else None

    def parameters(self) -> dict[str, Any]:
        """The values of the declared parameters, read from the attributes of the same name."""
        return {p.name: getattr(self, p.name) for p in self.params}


def upgraded_history(game: Game, records: Sequence[EvaluationRecord]) -> list[EvaluationRecord]:
    """Stored evaluations (states loaded) with each state in the game's current form
    (:meth:`Game.upgrade_state`) and keyed by it, as proposers and surrogates must see them."""
    out = []
    for record in records:
        if record.state is not None and (state := game.upgrade_state(record.state)) != record.state:
            record = replace(record, state=state, state_key=game.state_key(state))
        out.append(record)
    return out


def starting_states(game: Game) -> list[State]:
    """The game's :meth:`~Game.starting_states`, checked (complete, every move legal and written as
    the game offers it, ``moves_of`` leading to the state itself) and without repeats; a bad one is
    a :class:`GameError` naming it, raised before a campaign creates its store."""
    try:
        given = list(game.starting_states())
    except TypeError:
        raise GameError(f"game {game.name!r}: starting_states() must return a sequence of states") from None
    out, keys = [], set()
    for state in given:
        try:
            complete = game.to_move(state) is Player.TERMINAL
        except Exception as exc:
            raise GameError(f"game {game.name!r}: starting state {state!r} is not a state of it ({exc})") from None
        if not complete:
            raise GameError(f"game {game.name!r}: starting state {state!r} is not a complete formulation")
        if (moves := game.moves_of(state)) is None:
            raise GameError(f"game {game.name!r}: starting state {state!r} has no moves that moves_of() can tell")
        if (why := illegal_moves(game, state, moves)) is not None:
            raise GameError(f"game {game.name!r}: starting state {state!r}: {why}")
        if (key := game.state_key(state)) not in keys:
            keys.add(key)
            out.append(state)
    return out


def illegal_moves(game: Game, state: State, moves: Sequence[Action]) -> str | None:
    """Why ``moves`` (from the initial state) are not the moves of ``state`` as the game offers
    them, or None: each must be offered where it is made (a number within an Interval; a sampler
    other than an Interval admits any), and played as the game's own objects (``2``, not ``2.0``:
    keys hash the written form) they must lead to ``state`` itself."""
    current, played = game.initial_state(), []
    for action in moves:
        if game.to_move(current) is Player.CHANCE:
            offered: Any = [a for a, _ in game.chance_outcomes(current)]
        else:
            offered = game.actions(current)
        if isinstance(offered, Interval):
            if isinstance(action, bool) or not isinstance(action, Real) or not offered.low <= action <= offered.high:
                return f"move {action!r} is not a number in [{offered.low}, {offered.high}]"
            action = float(action)
        elif not is_sampler(offered):
            offered = list(offered)
            if action not in offered:
                return f"move {action!r} is not one of {offered!r}"
            action = offered[offered.index(action)]
        played.append(action)
        current = game.apply(current, action)
    if game.to_move(current) is not Player.TERMINAL or game.state_key(current) != game.state_key(state):
        return (f"its moves {tuple(played)!r} lead to {game.describe_state(current)}, not to it "
                "(write each move as the game offers it)")
    return None


def pick_index(weights: Sequence[float] | np.ndarray, u: float) -> int:
    """The index that a uniform ``u`` in [0, 1) picks when each index is as likely as its non-negative
    weight (weights need not sum to one): inverse-CDF sampling, so a Sobol coordinate works as well
    as a random number."""
    cumulative = np.cumsum(np.asarray(weights, dtype=float))
    return min(int(np.searchsorted(cumulative, u * cumulative[-1], side="right")), len(cumulative) - 1)


def sample_chance(outcomes: Sequence[tuple[Action, float]], rng: np.random.Generator) -> Action:
    """One chance move drawn with the (renormalised) probabilities the game gives."""
    outcomes = list(outcomes)
    probs = np.array([p for _, p in outcomes], dtype=float)
    return outcomes[int(rng.choice(len(outcomes), p=probs / probs.sum()))][0]


def sample_action(actions: Sequence[Action] | Sampler, rng: np.random.Generator) -> Action:
    """One move drawn uniformly from a finite set, or from a sampler."""
    if is_sampler(actions):
        return actions.sample(rng)
    if len(actions) == 0:
        raise GameError("a non-terminal state has no legal moves")
    return actions[int(rng.integers(len(actions)))]


# --------------------------------------------------------------------------------------------
# Registry
# --------------------------------------------------------------------------------------------
_registered: dict[str, type[Game]] = {}

G = TypeVar("G", bound=type[Game])


def register_game(cls: G | None = None, *, name: str | None = None) -> Any:
    """Class decorator that makes a game loadable by name (``@register_game`` in a script)."""

    def decorate(game_cls: G) -> G:
        _check_game_class(game_cls, source="register_game")
        key = name or game_cls.name
        if name:
            game_cls.name = name
        _registered[key] = game_cls
        return game_cls

    return decorate(cls) if cls is not None else decorate


def _check_game_class(obj: Any, source: str) -> None:
    if not (inspect.isclass(obj) and issubclass(obj, Game)):
        raise PluginError(f"{source}: {obj!r} is not a subclass of discover.Game")
    if not obj.name:
        raise PluginError(f"{source}: game class {obj.__name__} has no `name`")
    if inspect.isabstract(obj):
        missing = ", ".join(sorted(obj.__abstractmethods__))
        raise PluginError(f"{source}: game {obj.name!r} does not implement {missing}")


def _load_entry_point(name: str) -> type[Game]:
    obj = load_plugin(ENTRY_POINT_GROUP, name, "game plugin")
    source = f"game plugin {name!r} ({plugins(ENTRY_POINT_GROUP)[name].value})"
    _check_game_class(obj, source=source)
    if obj.name != name:
        obj.name = name  # the entry-point name is what users type
    return obj


def game_class(name: str) -> type[Game]:
    """The class of a registered game, importing its plugin if needed."""
    if name in _registered:
        return _registered[name]
    if name in plugins(ENTRY_POINT_GROUP):
        return _load_entry_point(name)
    known = sorted(set(_registered) | set(plugins(ENTRY_POINT_GROUP)))
    raise UnknownGameError(
        f"unknown game {name!r}; known games: {', '.join(known) or 'none'} "
        "(`discover games` lists them with their parameters)"
    )


def available_games() -> dict[str, type[Game] | PluginError]:
    """Every registered game by name; a plugin that fails to import maps to its error."""
    out: dict[str, type[Game] | PluginError] = {}
    for name in plugins(ENTRY_POINT_GROUP):
        try:
            out[name] = _load_entry_point(name)
        except PluginError as exc:
            out[name] = exc
    out.update(_registered)
    return dict(sorted(out.items()))


def validate_params(cls: type[Game], given: dict[str, Any]) -> dict[str, Any]:
    """Declared parameters with defaults filled in and values coerced; unknown names refused."""
    declared = {p.name: p for p in cls.params}
    unknown = sorted(set(given) - set(declared))
    if unknown:
        names = ", ".join(declared) or "none"
        raise ParameterError(
            f"game {cls.name!r} has no parameter {', '.join(map(repr, unknown))}; its parameters: {names}"
        )
    values: dict[str, Any] = {}
    for p in cls.params:
        if p.name in given:
            values[p.name] = p.coerce(given[p.name])
        elif p.required:
            raise ParameterError(f"game {cls.name!r} needs parameter {p.name!r}: {p.help}")
        else:
            values[p.name] = p.default
    return values


def load_game(name: str, **params: Any) -> Game:
    """A game instance by registered name, with its parameters validated."""
    cls = game_class(name)
    values = validate_params(cls, params)
    try:
        return cls(**values)
    except (ValueError, TypeError, FileNotFoundError) as exc:
        raise ParameterError(f"game {name!r} refused its parameters: {exc}") from None

