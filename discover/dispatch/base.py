"""The Backend interface and the one function every backend uses to run an evaluation.

A backend takes :class:`~discover.types.Job` objects and returns ``concurrent.futures.Future``
objects that resolve to :class:`~discover.types.JobResult`. A future never raises: whatever goes
wrong in an evaluation (an exception, NaN, a timeout, a dead worker) becomes an outcome with the
matching status, so that one bad evaluation fails itself and not the campaign.
"""

from __future__ import annotations

import abc
import time
import traceback
from concurrent.futures import Future


from discover.game import Game
from discover.threads import thread_cap
from discover.types import EvalContext, Job, JobResult, Outcome, Status


class Backend(abc.ABC):
    """Runs evaluations; ``capacity`` jobs at most at once."""

    name: str = ""
    enforces_timeouts: bool = False  # can it stop an evaluation at its job's timeout_seconds?

    @property
    @abc.abstractmethod
    def capacity(self) -> int: ...

    @abc.abstractmethod
    def start(self, game: Game) -> None:
        """Prepare to evaluate states of ``game`` (start workers, ship the game to them)."""

    @abc.abstractmethod
    def submit(self, job: Job) -> Future[JobResult]: ...

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


def run_evaluation(game: Game, job: Job, worker: str, device: str) -> JobResult:
    """Evaluate ``job`` with every failure turned into an outcome; verify OK certificates."""
    context = EvalContext(device=device, seed=job.seed, timeout_seconds=job.timeout_seconds, worker=worker)
    started = time.time()
    tick = time.perf_counter()
    try:
        with thread_cap(job.resources.cpus):
            outcome = game.evaluate(job.state, context)
        if not isinstance(outcome, Outcome):
            outcome = Outcome.failure(
                Status.FAILED, f"evaluate() returned {type(outcome).__name__} {outcome!r:.40}, not an Outcome; "
                "return discover.Outcome.ok(value) or Outcome.failure(status, message)")
        outcome = outcome.checked()
        if outcome.status is Status.OK:
            reason = game.verify(job.state, outcome)
            if reason:
                outcome = Outcome.failure(Status.FAILED, f"certificate did not verify: {reason}",
                                          outcome.cost_seconds, outcome.artifacts)
    except Exception as exc:  # the evaluation is the user's code: any exception fails this job only
        where = traceback.extract_tb(exc.__traceback__)[-1]
        outcome = Outcome.failure(
            Status.FAILED, f"{type(exc).__name__}: {exc} (at {where.filename}:{where.lineno})",
            artifacts={"traceback": traceback.format_exc()},
        )
    elapsed = time.perf_counter() - tick
    if not outcome.cost_seconds:
        outcome = Outcome(outcome.value, outcome.status, elapsed, outcome.artifacts, outcome.message)
    return JobResult(job, outcome, worker, device, started, started + elapsed)


def lost_result(job: Job, status: Status, message: str, worker: str, device: str, started: float) -> JobResult:
    """The result of a job whose worker was killed or died before it could answer."""
    now = time.time()
    return JobResult(job, Outcome.failure(status, message, now - started), worker, device, started, now)
