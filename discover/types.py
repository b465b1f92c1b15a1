"""The contracts of the engine, in one place: read this module first.

Everything that crosses a boundary between the planner, a game, a dispatch backend, the store and
the campaign loop is defined here as a small frozen dataclass or an enum, so that each of those
modules can be read on its own.
"""

from __future__ import annotations

import enum
import json
import math
import re
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any, Hashable, Literal, Mapping, Protocol, Sequence, runtime_checkable

import numpy as np

from discover.decimals import decimal_down, decimal_up
from discover.errors import SettingsError

State = Hashable
"""A game state: immutable and hashable, so transpositions merge and the store can key it."""

Action = Hashable
"""A move: immutable and hashable (an int, a string, a float, a tuple of those...)."""


@dataclass(frozen=True)
class Objective:
    """What a game's value is, in its own words: the engine maximises ``value``; a game whose
    quantity is better lower (a bound to push down) stores its negation and says so here, so that
    every output shows the quantity itself."""

    name: str = "value"
    direction: Literal["max", "min"] = "max"

    def __post_init__(self) -> None:
        if self.direction not in ("max", "min"):
            raise ValueError(f"Objective.direction must be 'max' or 'min', got {self.direction!r}")

    def shown(self, value: float | None) -> float | None:
        """A stored (maximised) value as the game's quantity."""
        return None if value is None else (value if self.direction == "max" else -value)

    def text(self, value: float | None, digits: int = 10) -> str:
        """A stored value as the game's quantity in ``digits`` significant digits, rounded towards
        the worse side (up when lower is better, down when higher is better; :mod:`discover.decimals`):
        a verified bound printed with fewer digits stays a bound (rounded to nearest, 0.6389720816
        would print as 0.63897208, below what was verified). "-" for None."""
        return self.quantity_text(self.shown(value), digits)

    def quantity_text(self, quantity: float | None, digits: int = 10) -> str:
        """:meth:`text` of a value already in the game's quantity (what the tree exports hold)."""
        if quantity is None:
            return "-"
        return (decimal_up if self.direction == "min" else decimal_down)(quantity, digits)

    @property
    def label(self) -> str:
        return f"{self.name} ({'higher' if self.direction == 'max' else 'lower'} is better)"



def failure_kind(message: str) -> str:
    """A failure message with its numbers blanked, so that failures group by kind."""
    return re.sub(r"\d+(\.\d+)?", "#", message)


class Player(str, enum.Enum):
    """Whose move it is in a state."""

    SEARCHER = "searcher"  # maximises the terminal value
    OPPONENT = "opponent"  # minimises the terminal value
    CHANCE = "chance"  # moves at random with the probabilities the game gives
    TERMINAL = "terminal"  # nothing left to choose: the state is evaluated


class Status(str, enum.Enum):
    """How an evaluation ended. Only OK carries a value that the search trusts."""

    OK = "ok"
    INFEASIBLE = "infeasible"  # the formulation is valid but certifies nothing
    FAILED = "failed"  # raised, returned NaN, crashed its worker, or did not verify
    TIMEOUT = "timeout"  # killed after its time limit


@dataclass(frozen=True)
class Outcome:
    """The result of one (expensive) terminal evaluation.

    ``value`` is maximised by the searcher (negate a bound to minimise it); it is ``None`` unless
    ``status`` is OK. ``artifacts`` carry the certificate (multipliers, an image, weights) so that a
    result can be re-checked independently; they must be JSON-serialisable (numpy arrays and scalars
    are converted on the way into the store).

    ``constraints`` (optional) are the values g_i of the game's inequality constraints at this
    formulation, each satisfied when g_i <= 0. A game that can say *how far* a formulation is from
    feasible reports them on OK and INFEASIBLE outcomes alike: the GP surrogate then models each
    g_i and weighs the acquisition by P(all g_i <= 0) (constrained BO, Gardner et al. 2014), which
    learns a feasible region from far fewer evaluations than ok/failed labels do.
    """

    value: float | None
    status: Status = Status.OK
    cost_seconds: float = 0.0
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""
    constraints: tuple[float, ...] = ()

    @classmethod
    def ok(cls, value: float, artifacts: Mapping[str, Any] | None = None, cost_seconds: float = 0.0,
           constraints: tuple[float, ...] = ()) -> Outcome:
        return cls(float(value), Status.OK, cost_seconds, dict(artifacts or {}), "", tuple(constraints))

    @classmethod
    def failure(cls, status: Status, message: str, cost_seconds: float = 0.0,
                artifacts: Mapping[str, Any] | None = None, constraints: tuple[float, ...] = ()) -> Outcome:
        status = Status(status)
        if status is Status.OK:
            raise ValueError("a failure needs a status other than OK")
        return cls(None, status, cost_seconds, dict(artifacts or {}), message, tuple(constraints))

    @property
    def succeeded(self) -> bool:
        """OK with a finite value: what a surrogate may learn a value from."""
        return self.status is Status.OK and self.value is not None and math.isfinite(self.value)

    @property
    def violates(self) -> bool:
        """Some reported g_i > 0 (:func:`violated`)."""
        return violated(self.constraints)

    def checked(self) -> Outcome:
        """The outcome with its invariants enforced: an OK outcome without a finite value fails;
        constraint values that are not all finite numbers are dropped (with a note in the message)."""
        status = Status(self.status)
        constraints, message = self._checked_constraints()
        if status is Status.OK:
            if self.value is None or not math.isfinite(float(self.value)):
                return replace(self, value=None, status=Status.FAILED, constraints=constraints,
                               message=f"evaluation returned a non-finite value ({self.value!r})")
            return replace(self, value=float(self.value), status=status, constraints=constraints, message=message)
        return replace(self, value=None, status=status, constraints=constraints, message=message)

    def _checked_constraints(self) -> tuple[tuple[float, ...], str]:
        try:
            values = tuple(float(g) for g in self.constraints)
        except (TypeError, ValueError):
            values = (math.nan,)
        if all(math.isfinite(g) for g in values):
            return values, self.message
        note = f"constraint values {self.constraints!r} are not all finite numbers; dropped"
        return (), f"{self.message}; {note}" if self.message else note


def violated(constraints: Sequence[float]) -> bool:
    """Some g_i > 0: infeasible for a reason the game measured (a failure so explained is the
    constraint models' to learn, not an unexplained one)."""
    return any(not g <= 0 for g in constraints)  # a NaN g counts as violated, in any position


def to_json(obj: Any) -> str:
    """JSON text for artifacts and settings; numpy values become lists and floats."""

    def default(o: Any) -> Any:
        if isinstance(o, np.ndarray):
            return o.tolist()
        if isinstance(o, np.generic):
            return o.item()
        if isinstance(o, enum.Enum):
            return o.value
        if isinstance(o, (set, frozenset)):
            return sorted(o, key=repr)
        raise TypeError(f"{type(o).__name__} is not JSON-serialisable")

    return json.dumps(obj, default=default, allow_nan=True, sort_keys=True)


@dataclass(frozen=True)
class Resources:
    """What one evaluation needs: dispatch places GPU jobs on GPU workers and caps the job's
    BLAS/OpenMP/torch threads at ``cpus``, so that workers beside each other do not oversubscribe.
    ``memory_gb`` (0: unstated) is reserved on a Ray cluster, so a large SDP goes to a node that
    has the memory; the local backends do not reserve memory."""

    cpus: int = 1
    gpus: int = 0
    memory_gb: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.cpus, bool) or not isinstance(self.cpus, int) or self.cpus < 1:
            raise ValueError(f"Resources.cpus must be a positive int, got {self.cpus!r}")
        if isinstance(self.gpus, bool) or not isinstance(self.gpus, int) or self.gpus < 0:
            raise ValueError(f"Resources.gpus must be a non-negative int, got {self.gpus!r}")
        if isinstance(self.memory_gb, bool) or not isinstance(self.memory_gb, (int, float)) \
                or not self.memory_gb >= 0:
            raise ValueError(f"Resources.memory_gb must be a non-negative number, got {self.memory_gb!r}")


@dataclass(frozen=True)
class EvalContext:
    """What an evaluation is told about where and how it runs.

    ``timeout_seconds`` is the campaign's per-evaluation limit (None: unlimited). A game whose
    solver can stop early and still return its best certificate should read it and stop a little
    before, rather than be killed with nothing.
    """

    device: str = "cpu"  # "cpu" or "cuda" (the worker sees only its assigned GPU)
    seed: int = 0  # for evaluations that are themselves random
    timeout_seconds: float | None = None
    worker: str = "inline"

    def time_for(self, share: float) -> float | None:
        """``share`` of the time limit (None when unlimited): what a solver may spend so that the
        rest of the evaluation (verifying its result) still ends before the limit."""
        return None if self.timeout_seconds is None else share * self.timeout_seconds


@dataclass(frozen=True)
class Job:
    """One evaluation handed to a backend."""

    id: int
    state: State
    resources: Resources = Resources()
    seed: int = 0
    timeout_seconds: float | None = None


@dataclass(frozen=True)
class JobResult:
    """A finished job as a backend reports it (the outcome already has its status)."""

    job: Job
    outcome: Outcome
    worker: str
    device: str
    started: float  # unix time
    finished: float


class EventKind(str, enum.Enum):
    CAMPAIGN_STARTED = "campaign_started"
    EVALUATION_STARTED = "evaluation_started"
    EVALUATION_FINISHED = "evaluation_finished"
    EVALUATION_FAILED = "evaluation_failed"
    NEW_BEST = "new_best"
    CAMPAIGN_FINISHED = "campaign_finished"


@dataclass(frozen=True)
class Event:
    """What a campaign tells its subscribers (and writes to the store)."""

    kind: EventKind
    time: float
    data: Mapping[str, Any]


@runtime_checkable
class Sampler(Protocol):
    """A continuous or very wide action set: the planner draws from it (progressive widening)."""

    def sample(self, rng: np.random.Generator) -> Action: ...


def is_sampler(moves: Any) -> bool:
    """``isinstance(moves, Sampler)``, answered at once for the usual finite lists and tuples: a
    runtime protocol check costs ~50 us, and the surrogate asks it for every decision of every
    candidate completion (27,908 times, 1.3 s, in 8 decisions at 200 observations)."""
    return type(moves) not in (list, tuple) and isinstance(moves, Sampler)  # a subclass may be a Sampler


@dataclass(frozen=True)
class Interval:
    """A real interval of actions, sampled uniformly (or log-uniformly)."""

    low: float
    high: float
    log: bool = False

    def __post_init__(self) -> None:
        if not self.low < self.high:
            raise ValueError(f"Interval needs low < high, got [{self.low}, {self.high}]")
        if self.log and self.low <= 0:
            raise ValueError("a log-scaled Interval needs low > 0")

    def sample(self, rng: np.random.Generator) -> float:
        if self.log:
            return float(math.exp(rng.uniform(math.log(self.low), math.log(self.high))))
        return float(rng.uniform(self.low, self.high))


# --------------------------------------------------------------------------------------------
# Settings: one frozen record, validated once, used by the API, the CLI, TOML files, the store
# and resume alike (stored with ``to_dict``, resumed with ``replace(**overrides)``).
# --------------------------------------------------------------------------------------------
def _check_int(name: str, value: Any, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        what = {0: "a non-negative integer", 1: "a positive integer"}.get(low, f"an integer >= {low}")
        raise SettingsError(f"{name} must be {what}, got {value!r}")


def _check_seconds(name: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise SettingsError(f"{name} must be a positive number of seconds, got {value!r}")


def _check_choice(name: str, value: Any, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise SettingsError(f"{name} must be one of {', '.join(choices)}; got {value!r}")


@dataclass(frozen=True)
class PlannerConfig:
    """Tuning knobs of the tree search; the defaults suit formulation games with costly evaluations.

    [PW] Coulom 2007; Couetoux et al., LION 2011: progressive widening keeps k(N) = C N^alpha children.
    """

    rule: Literal["uct", "puct"] = "uct"
    exploration: float = 1.0  # c in [UCT]/[PUCT]; values are normalised to [0, 1]
    backup: Literal["mean", "max"] = "max"  # q of a child: mean value, or best seen for the mover
    # where q comes from: values observed below a child ("observed"), or ("prior", guided by a
    # surrogate) half the estimator's prior for it relative to its best sibling (the acquisition
    # already trades exploration against exploitation) and half what was observed below it; guided
    # searcher nodes also leave a branch where every evaluation failed while another may succeed,
    # and take every continuous move from the estimator (its acquisition maximiser)
    value_source: Literal["observed", "prior"] = "observed"
    # "one": expand one node per iteration and evaluate below it (classic MCTS); "deep": keep
    # descending through new nodes by the selection rule until the moves left are continuous or
    # none, then let the estimator complete (suits a surrogate whose priors are informative)
    descend: Literal["one", "deep"] = "one"
    widening_constant: float = 1.0  # [PW] C
    widening_exponent: float = 0.5  # [PW] alpha
    wide_threshold: int = 32  # finite move sets larger than this are widened progressively too
    completion_tries: int = 8  # new completions drawn when one is already in flight
    max_free_iterations: int = 10_000  # per ask(): iterations that reuse stored values
    max_depth: int = 100_000

    def __post_init__(self) -> None:
        _check_choice("planner rule", self.rule, ("uct", "puct"))
        _check_choice("planner backup", self.backup, ("mean", "max"))
        _check_choice("planner value_source", self.value_source, ("observed", "prior"))
        _check_choice("planner descend", self.descend, ("one", "deep"))
        for name in ("exploration", "widening_constant", "widening_exponent"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise SettingsError(f"planner {name} must be a number, got {value!r}")
        if self.exploration < 0 or self.widening_constant <= 0 or not 0 < self.widening_exponent <= 1:
            raise SettingsError("planner: exploration >= 0, widening_constant > 0 and 0 < widening_exponent <= 1")
        for name in ("wide_threshold", "completion_tries", "max_free_iterations", "max_depth"):
            _check_int(f"planner {name}", getattr(self, name), 1)

    @classmethod
    def guided(cls) -> PlannerConfig:
        """For a surrogate whose acquisition is worth following: PUCT on its priors, deep descent."""
        return cls(rule="puct", value_source="prior", descend="deep", exploration=0.5)


DEFAULT_TIMEOUT_SECONDS = 3600.0
"""Per-evaluation limit when none is given (process backend): one hung evaluation must not stall a
campaign forever. Games with longer evaluations say so with ``Game.default_timeout``."""


def _setting(default: Any, help: str, short: str | None = None, cli: bool = True, resumable: bool = True) -> Any:
    """A settings field with what the command line shows for it (``cli=False``: config files only;
    ``resumable=False``: fixed for the life of a campaign, since a resumed run must continue it)."""
    return field(default=default, metadata={"help": help, "short": short, "cli": cli, "resumable": resumable})


@dataclass(frozen=True)
class CampaignSettings:
    """Everything that decides how a campaign runs, checked when it is made.

    ``budget`` is a total number of evaluations, ``time_limit`` the wall-clock seconds of one run,
    ``timeout`` the per-evaluation limit (None: the game's default, or one hour), ``target`` a value
    at which to stop early, ``fail_fast`` how many first evaluations failing (or timing out) the
    same way stop a campaign (its game is broken; infeasible formulations do not count; 0 never
    stops). ``surrogate`` None means the game's default.
    """

    budget: int | None = _setting(None, "total number of evaluations", "-n")
    time_limit: float | None = _setting(None, "wall-clock seconds for this run")
    seed: int = _setting(0, "random seed", resumable=False)
    backend: str = _setting("process", "process (default), inline (one at a time, in this process) or ray (a cluster)")
    workers: int | None = _setting(None, "parallel evaluations (default: the number of cores, or the Ray cluster's CPUs)",
                                   "-w")
    ray_address: str | None = _setting(None, "Ray cluster to join: auto or HOST:PORT (default: RAY_ADDRESS, or "
                                             "start a local one)")
    ray_retries: int = _setting(0, "times a Ray task lost with its worker or node is run again before it fails")
    artifact_dir: str | None = _setting(None, "folder every Ray node sees, for artifacts over 64 KiB (default: "
                                              "./discover-artifacts on a local Ray; none on a cluster joined)")
    batch_size: int | None = _setting(None, "formulations chosen at once (default: workers x the game's batch_limit)")
    timeout: float | None = _setting(None, "per-evaluation limit in seconds (default: the game's, or 3600)")
    target: float | None = _setting(None, "stop once an evaluation reaches this value")
    fail_fast: int = _setting(10, "stop when the first N evaluations all fail the same way (0: never)")
    surrogate: str | None = _setting(None, "gp | none (default: gp for expensive games)", resumable=False)
    method: str = _setting("mcts", "mcts, or a baseline: random, flat-bo, tpe, ax, smac", resumable=False)
    planner: PlannerConfig | None = _setting(None, "planner knobs (a [planner] table in a config file)", cli=False,
                                             resumable=False)

    def __post_init__(self) -> None:
        if self.budget is None and self.time_limit is None:
            raise SettingsError("give a budget (--budget N evaluations) and/or a time limit (--time-limit SECONDS)")
        if self.budget is not None:
            _check_int("budget", self.budget, 1)
        if self.time_limit is not None:
            _check_seconds("time_limit", self.time_limit)
        _check_int("seed", self.seed, 0)
        if self.seed >= 2**63:  # stored as an SQLite integer
            raise SettingsError(f"seed must be below 2**63, got {self.seed}")
        if not isinstance(self.backend, str):
            raise SettingsError(f"backend must be a name such as 'process' or 'inline', got {self.backend!r}")
        if self.workers is not None:
            _check_int("workers", self.workers, 1)
        _check_int("ray_retries", self.ray_retries, 0)
        for name in ("ray_address", "artifact_dir"):
            if getattr(self, name) is not None and not isinstance(getattr(self, name), str):
                raise SettingsError(f"{name} must be a string, got {getattr(self, name)!r}")
            if getattr(self, name) is not None and self.backend != "ray":
                raise SettingsError(f"{name} applies to the Ray backend only; add --backend ray or drop it")
        if self.ray_retries and self.backend != "ray":
            raise SettingsError("ray_retries applies to the Ray backend only; add --backend ray or drop it")
        if self.batch_size is not None:
            _check_int("batch_size", self.batch_size, 1)
        if self.timeout is not None:
            _check_seconds("timeout", self.timeout)
        if self.target is not None and (isinstance(self.target, bool) or not isinstance(self.target, (int, float))
                                        or not math.isfinite(self.target)):
            raise SettingsError(f"target must be a finite number, got {self.target!r}")
        _check_int("fail_fast", self.fail_fast, 0)
        for name in ("surrogate", "method"):
            value = getattr(self, name)
            if value is not None and not isinstance(value, str):
                raise SettingsError(f"{name} must be a name, got {value!r}")
        if isinstance(self.planner, Mapping):  # from a TOML table or the store
            try:
                object.__setattr__(self, "planner", PlannerConfig(**self.planner))
            except TypeError as exc:
                raise SettingsError(f"planner settings: {exc}") from None
        elif self.planner is not None and not isinstance(self.planner, PlannerConfig):
            raise SettingsError(f"planner must be a PlannerConfig or a table of its fields, got {self.planner!r}")

    @classmethod
    def names(cls, *, resumable: bool | None = None) -> tuple[str, ...]:
        """The settings' names (only those a resume may change, or only those it may not)."""
        return tuple(f.name for f in fields(cls) if resumable is None or f.metadata["resumable"] == resumable)

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "settings") -> CampaignSettings:
        """Settings from a mapping (a TOML file, the store), refusing unknown keys by name."""
        unknown = sorted(set(data) - set(cls.names()))
        if unknown:
            raise SettingsError(f"{source} has unknown keys {', '.join(unknown)}; allowed: {', '.join(cls.names())}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def updated(self, **overrides: Any) -> CampaignSettings:
        """A copy with ``overrides`` (None values mean "keep")."""
        return replace(self, **{k: v for k, v in overrides.items() if v is not None})


# --------------------------------------------------------------------------------------------
# Records: what the campaign writes to the store and reads back (the store knows only these).
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class EvaluationRecord:
    """One finished evaluation. ``id`` is given by the store; ``state`` is loaded only on resume."""

    state_key: str
    label: str
    value: float | None
    status: str  # a Status value
    message: str
    cost_seconds: float
    artifacts: dict[str, Any]
    worker: str
    device: str
    started: float  # unix time
    finished: float
    encoding: list[float] | None
    path: list[str]  # tree node keys from the root (empty for tree-less methods)
    state: State | None = None
    id: int | None = None
    constraints: list[float] = field(default_factory=list)  # Outcome.constraints ([] for none)

    def outcome(self) -> Outcome:
        return Outcome(self.value, Status(self.status), self.cost_seconds, self.artifacts, self.message,
                       tuple(self.constraints))


@dataclass(frozen=True)
class NodeRecord:
    """What the store keeps of a search-tree node: enough to rebuild the tree and to inspect it.

    ``state`` is None when read by the inspection tools (they need no game code). Statistics that
    have seen nothing are stored as None (best, worst, value...).
    """

    key: str
    label: str
    depth: int
    player: str  # a Player value
    visits: int
    value_sum: float
    value: float | None
    best: float | None
    worst: float | None
    frontier_best: float | None
    frontier_worst: float | None
    solved: bool
    state: State | None = None
    counts: dict[str, int] = field(default_factory=dict)  # evaluations below, by status
    # filled when read from the store: the evaluations whose path passes here, and whether the node
    # is on the principal variation (the moves each player would make on the backed-up values)
    evaluation_ids: tuple[int, ...] = ()
    principal: bool = False


@dataclass(frozen=True)
class EdgeRecord:
    """A move from one stored node to another, with what the planner knew of it when it last chose
    at the parent: ``prior`` (PUCT's), ``probability`` (a chance move's), ``score`` (the selection
    score), and, when a surrogate guided the search, ``acquisition`` (the best acquisition value
    found below the move) and ``feasibility`` (P(ok) of that completion). ``action`` is None when
    read for inspection."""

    parent: str
    child: str
    label: str
    action: Action | None = None
    prior: float | None = None
    probability: float | None = None
    score: float | None = None
    acquisition: float | None = None
    feasibility: float | None = None


@dataclass(frozen=True)
class CampaignInfo:
    """The campaign row of a store."""

    game: str
    params: dict[str, Any]
    seed: int
    settings: dict[str, Any]
    code_version: str
    created: float
    updated: float
    status: str  # running | finished | interrupted | crashed
    reason: str = ""  # why it stopped (a crash's error)
    objective: Objective = Objective()
