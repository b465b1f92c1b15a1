"""The Backend interface and the one function every backend uses to run an evaluation.

A backend takes :class:`~discover.types.Job` objects (alone or in batches) and returns ``concurrent.futures.Future``
objects that resolve to :class:`~discover.types.JobResult`. A future never raises: whatever goes
wrong in an evaluation (an exception, NaN, a timeout, a dead worker) becomes an outcome with the
matching status, so that one bad evaluation fails itself and not the campaign.
"""

from __future__ import annotations

import abc
import time
import traceback
from concurrent.futures import Future
from dataclasses import replace
from typing import Any, Sequence

from discover.errors import GameError
from discover.game import Game
from discover.threads import thread_cap
from discover.types import EvalContext, Job, JobResult, Outcome, Resources, Status


class Backend(abc.ABC):
    """Runs evaluations; ``capacity`` tasks at most at once.

    A task is one job, or a batch of jobs of a game that evaluates several states in one call
    (``Game.batch_limit`` > 1); :meth:`submit_batch` is the one primitive every backend implements.
    """

    name: str = ""
    enforces_timeouts: bool = False  # can it stop an evaluation at its job's timeout_seconds?
    local: bool = True  # do its evaluations run on this machine's cores (beside the planner)?

    @property
    @abc.abstractmethod
    def capacity(self) -> int: ...

    @abc.abstractmethod
    def start(self, game: Game) -> None:
        """Prepare to evaluate states of ``game`` (start workers, ship the game to them)."""

    @abc.abstractmethod
    def submit_batch(self, jobs: Sequence[Job]) -> list[Future[JobResult]]:
        """Evaluate ``jobs`` as one task on one worker (through ``Game.evaluate_batch`` when there
        are several); one future per job. The task's time limit is the sum of the jobs'."""

    def submit(self, job: Job) -> Future[JobResult]:
        return self.submit_batch([job])[0]

    @abc.abstractmethod
    def cancel_all(self) -> None:
        """Stop every running job now (their futures resolve as cancelled)."""

    @abc.abstractmethod
    def close(self) -> None:
        """Cancel what is queued or running (futures resolve as cancelled) and release the workers."""

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def task_limit(jobs: Sequence[Job]) -> float | None:
    """A task's time limit: the sum of its jobs' (None, unlimited, when any job has none), since a
    game may evaluate a batch one state after another; a batch sharing one forward pass ends sooner."""
    limits = [job.timeout_seconds for job in jobs]
    return None if any(t is None for t in limits) else sum(limits)  # type: ignore[arg-type]


def task_resources(jobs: Sequence[Job]) -> Resources:
    """What a task of several jobs needs: they run together, in one call."""
    return Resources(cpus=max(j.resources.cpus for j in jobs), gpus=max(j.resources.gpus for j in jobs),
                     memory_gb=max(j.resources.memory_gb for j in jobs))


def run_batch(game: Game, jobs: Sequence[Job], worker: str, device: str) -> list[JobResult]:
    """Evaluate one task: one job through ``Game.evaluate``, several through ``Game.evaluate_batch``.

    Every failure becomes an outcome, and each OK certificate is verified on its own.
    """
    first = jobs[0]
    context = EvalContext(device=device, seed=first.seed, timeout_seconds=task_limit(jobs), worker=worker)
    started = time.time()
    tick = time.perf_counter()
    try:
        with thread_cap(task_resources(jobs).cpus):
            if len(jobs) == 1:
                outcomes: list[Any] = [game.evaluate(first.state, context)]
            else:
                outcomes = list(game.evaluate_batch([job.state for job in jobs], context))
                if len(outcomes) != len(jobs):
                    raise GameError(f"evaluate_batch() returned {len(outcomes)} outcomes for {len(jobs)} states")
        results = [_settle(game, job, outcome) for job, outcome in zip(jobs, outcomes)]
    except Exception as exc:  # the evaluation is the user's code: any exception fails this task only
        results = [_failed(exc)] * len(jobs)
    share = (time.perf_counter() - tick) / len(jobs)
    return [JobResult(job, outcome if outcome.cost_seconds else
                      replace(outcome, cost_seconds=share),
                      worker, device, started, started + share * len(jobs))
            for job, outcome in zip(jobs, results)]


def run_evaluation(game: Game, job: Job, worker: str, device: str) -> JobResult:
    """Evaluate one job with every failure turned into an outcome; verify an OK certificate."""
    return run_batch(game, [job], worker, device)[0]


def _settle(game: Game, job: Job, outcome: Any) -> Outcome:
    """An evaluation's return value checked as an Outcome, with an OK certificate verified."""
    if not isinstance(outcome, Outcome):
        return Outcome.failure(
            Status.FAILED, f"evaluate() returned {type(outcome).__name__} {outcome!r:.40}, not an Outcome; "
            "return discover.Outcome.ok(value) or Outcome.failure(status, message)")
    outcome = outcome.checked()
    if outcome.status is Status.OK:
        try:
            reason = game.verify(job.state, outcome)
        except Exception as exc:  # a verifier that raises has not verified
            return _failed(exc)
        if reason:
            return Outcome.failure(Status.FAILED, f"certificate did not verify: {reason}",
                                   outcome.cost_seconds, outcome.artifacts, outcome.constraints)
    return outcome


def _failed(exc: BaseException) -> Outcome:
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {where.filename}:{where.lineno})" if where else ""
    return Outcome.failure(Status.FAILED, f"{type(exc).__name__}: {exc}{at}",
                           artifacts={"traceback": "".join(traceback.format_exception(exc))})


def lost_result(job: Job, status: Status, message: str, worker: str, device: str, started: float) -> JobResult:
    """The result of a job whose worker was killed or died before it could answer."""
    now = time.time()
    return JobResult(job, Outcome.failure(status, message, now - started), worker, device, started, now)
