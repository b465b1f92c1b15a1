"""The contracts of the engine, in one place: read this module first.

Everything that crosses a boundary between the planner, a game, a dispatch backend, the store and
the campaign loop is defined here as a small frozen dataclass or an enum, so that each of those
modules can be read on its own.
"""

from __future__ import annotations

import enum
import json
import math
from dataclasses import dataclass, field
from typing import Any, Hashable, Mapping, Protocol, runtime_checkable

import numpy as np

State = Hashable
"""A game state: immutable and hashable, so transpositions merge and the store can key it."""

Action = Hashable
"""A move: immutable and hashable (an int, a string, a float, a tuple of those...)."""


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
    """

    value: float | None
    status: Status = Status.OK
    cost_seconds: float = 0.0
    artifacts: Mapping[str, Any] = field(default_factory=dict)
    message: str = ""

    @classmethod
    def ok(cls, value: float, artifacts: Mapping[str, Any] | None = None, cost_seconds: float = 0.0) -> Outcome:
        return cls(float(value), Status.OK, cost_seconds, dict(artifacts or {}))

    @classmethod
    def failure(cls, status: Status, message: str, cost_seconds: float = 0.0,
                artifacts: Mapping[str, Any] | None = None) -> Outcome:
        status = Status(status)
        if status is Status.OK:
            raise ValueError("a failure needs a status other than OK")
        return cls(None, status, cost_seconds, dict(artifacts or {}), message)

    def checked(self) -> Outcome:
        """The outcome with its invariants enforced: an OK outcome without a finite value fails."""
        status = Status(self.status)
        if status is Status.OK:
            if self.value is None or not math.isfinite(float(self.value)):
                return Outcome(None, Status.FAILED, self.cost_seconds, self.artifacts,
                               f"evaluation returned a non-finite value ({self.value!r})")
            return Outcome(float(self.value), status, self.cost_seconds, self.artifacts, self.message)
        return Outcome(None, status, self.cost_seconds, self.artifacts, self.message)


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
    """What one evaluation needs; dispatch uses it to place the job."""

    cpus: int = 1
    gpus: int = 0
    memory_gb: float | None = None


@dataclass(frozen=True)
class EvalContext:
    """What an evaluation is told about where and how it runs."""

    device: str = "cpu"  # "cpu" or "cuda" (the worker sees only its assigned GPU)
    seed: int = 0  # for evaluations that are themselves random
    timeout_seconds: float | None = None
    worker: str = "inline"


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
