"""Campaigns: the loop that spends an evaluation budget on a game, and resumes where it stopped.

``run()`` is only a loop over the proposer's ask/tell: ask for formulations while workers are free
(after the game's starting formulations, :meth:`~discover.game.Game.starting_states`, not yet stored),
submit them, and as each evaluation finishes tell the proposer and commit the evaluation, the tree
statistics it changed and its events in one transaction, before subscribers hear of it and before
the next evaluation is looked at. A campaign killed at any instant therefore resumes from its store
with every finished evaluation and nothing repeated; evaluations that were in flight are simply
proposed again. A run that fails inside the engine is stored as ``crashed`` with its reason.
"""

from __future__ import annotations

import hashlib
import logging
import math
import tempfile
import threading
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Callable

import numpy as np

from discover import __version__
from discover.check import check_game
from discover.dispatch import BACKENDS, Backend, make_backend
from discover.errors import DiscoverError, SettingsError
from discover.game import Game, load_game, starting_states, upgraded_history
from discover.limits import KindLimits
from discover.methods import (
    TreeProposer, check_names, default_surrogate, make_estimator, make_proposer, surrogate_names, surrogate_planner,
)
from discover.planner import Estimator, Planner, Proposal
from discover.store import Store
from discover.threads import spare_cores, thread_cap
from discover.types import (
    DEFAULT_TIMEOUT_SECONDS, CampaignInfo, CampaignSettings, EvaluationRecord, Event, EventKind, Job, JobResult,
    Outcome, PlannerConfig, Status, failure_kind, to_json,
)

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


@dataclass(frozen=True)
class CampaignResult:
    """What a finished (or stopped) campaign returns."""

    db: Path
    best: list[EvaluationRecord]  # the best OK evaluations, best first
    history: list[EvaluationRecord]  # every evaluation, in the order they finished
    root_value: float | None  # the planner's backed-up value of the game (None: nothing succeeded)
    stopped: str  # budget | time | target | exhausted | no-proposals | stopped | failing | interrupted
    reason: str = ""  # for ``failing``: how every evaluation failed

    @property
    def best_value(self) -> float | None:
        return self.best[0].value if self.best else None

    def to_dataframe(self) -> Any:
        """Every evaluation as a pandas DataFrame (``discover.analysis.evaluations_frame``)."""
        from discover.analysis import evaluations_frame

        return evaluations_frame(self.db)


class Campaign:
    """Spend a budget of evaluations (and/or seconds) searching ``game``.

    ``Campaign(game, settings)`` with a :class:`~discover.types.CampaignSettings`, or the same
    fields as keywords: ``Campaign("toy-dice", budget=40, workers=2)``. ``backend`` may also be a
    :class:`~discover.dispatch.Backend` and ``surrogate`` an :class:`~discover.planner.Estimator`
    object. ``db`` is the database to create (default: a temporary folder); ``params`` are the
    parameters of a game given by name.
    """

    def __init__(self, game: Game | str, settings: CampaignSettings | None = None, *,
                 db: str | Path | None = None, params: dict[str, Any] | None = None, **options: Any) -> None:
        unknown = sorted(set(options) - set(CampaignSettings.names()))
        if unknown:
            raise SettingsError(f"unknown campaign setting {', '.join(unknown)}; "
                                f"settings are: {', '.join(sorted(CampaignSettings.names()))}")
        if params is not None and not isinstance(params, dict):
            raise SettingsError(f"params must be a mapping of game parameters, got {params!r}")
        if params and not isinstance(game, str):
            raise SettingsError("params= is for a game given by name; a game instance already has its parameters")
        backend, surrogate = options.pop("backend", None), options.pop("surrogate", None)
        self._backend_object = backend if isinstance(backend, Backend) else None
        self._estimator_object = surrogate if surrogate is not None and not isinstance(surrogate, str) else None
        if self._backend_object is not None:
            options.update(backend=backend.name, workers=backend.capacity)
        elif backend is not None:
            options["backend"] = backend
        if self._estimator_object is not None:
            options["surrogate"] = type(surrogate).__name__
        elif surrogate is not None:
            options["surrogate"] = surrogate
        self.settings = settings.updated(**options) if settings is not None else CampaignSettings(**options)
        self.game = load_game(game, **(params or {})) if isinstance(game, str) else game
        if not isinstance(self.game, Game):
            raise SettingsError(f"game must be a discover.Game or a registered name, got {game!r}")
        check_names(self._estimator_object or self.settings.surrogate, self.settings.method)
        self.starting_states = starting_states(self.game)  # checked: a bad one is reported before any store exists
        # the defaults a campaign starts with are written down, so that a resumed run continues with the
        # same surrogate and planner even where other plugins are installed
        if self.settings.surrogate is None:
            self.settings = self.settings.updated(surrogate=default_surrogate(self.game))
        if self.settings.planner is None:
            self.settings = self.settings.updated(planner=surrogate_planner(self.surrogate))
        self.backend = self._backend_object or make_backend(
            self.settings.backend, self.settings.workers, ray_address=self.settings.ray_address,
            ray_retries=self.settings.ray_retries, artifact_dir=self.settings.artifact_dir)
        self.timeout = self._timeout()
        self.db = Path(db) if db is not None else None
        self._subscribers: list[Subscriber] = []
        self._resuming = False
        self._stop = threading.Event()

    @property
    def surrogate(self) -> str | Estimator:
        """The estimator guiding the planner: a name, or the object given."""
        return self._estimator_object or self.settings.surrogate  # type: ignore[return-value]

    @property
    def planner_config(self) -> PlannerConfig:
        return self.settings.planner  # type: ignore[return-value]

    def _timeout(self) -> float | None:
        """The per-evaluation limit: given, or the game's default, or one hour; none inline."""
        if self.backend.enforces_timeouts:
            return self.settings.timeout or self.game.default_timeout or DEFAULT_TIMEOUT_SECONDS
        if self.settings.timeout is not None:
            raise SettingsError(f"the {self.backend.name} backend cannot interrupt an evaluation, so it cannot "
                                "enforce a timeout; drop --timeout or use --backend process")
        return None

    # -- public API --------------------------------------------------------------------------
    @classmethod
    def resume(cls, db: str | Path, *, add: int | None = None, game: Game | None = None,
               surrogate: Estimator | None = None, backend: str | Backend | None = None,
               **overrides: Any) -> Campaign:
        """The campaign stored in ``db``, ready to ``run()`` on.

        ``budget`` is a new total, ``add`` a number of evaluations more; either must exceed what is
        done. Other settings (``time_limit``, ``workers``, ``timeout``...) may be overridden too.
        """
        with Store.open(db, readonly=True) as store:
            info, done = store.campaign(), store.count()
            top = store.evaluations(order="best", status=Status.OK.value, limit=1)
        stored = dict(info.settings)
        stored.setdefault("seed", info.seed)
        name = stored.get("surrogate")
        known = isinstance(name, str) and name in surrogate_names()
        if surrogate is None and isinstance(name, str) and not known:
            raise SettingsError(f"{db} was run with a surrogate object ({name}); pass it again: "
                                "Campaign.resume(db, surrogate=...)")
        if surrogate is not None and (isinstance(surrogate, str) or known):
            raise SettingsError(f"{db} was run with surrogate {name!r}, which cannot change on resume; "
                                "start a new campaign instead")
        if isinstance(stored.get("backend"), str) and stored["backend"] not in BACKENDS and backend is None:
            raise SettingsError(f"{db} was run on a backend object ({stored['backend']}); pass it again: "
                                "Campaign.resume(db, backend=...), or choose --backend process")
        fixed = sorted(set(CampaignSettings.names(resumable=False)) & {k for k, v in overrides.items() if v is not None})
        if fixed:
            raise SettingsError(f"{', '.join(fixed)} cannot change on resume; start a new campaign instead")
        if add is not None:
            if overrides.get("budget") is not None:
                raise SettingsError("give either a new total budget or a number of evaluations to add, not both")
            if isinstance(add, bool) or not isinstance(add, int) or add < 1:
                raise SettingsError(f"add must be a positive number of evaluations, got {add!r}")
            overrides["budget"] = done + add
        if backend is not None and overrides.get("workers") is None and not isinstance(backend, Backend):
            stored["workers"] = None  # another backend: its own default number of workers
        if isinstance(backend, str):
            overrides["backend"] = backend
        if (backend.name if isinstance(backend, Backend) else overrides.get("backend") or stored.get("backend")) != "ray":
            for name in ("ray_address", "ray_retries", "artifact_dir"):
                stored.pop(name, None)  # Ray's settings do not carry over to another backend
        if overrides.get("backend") == "inline" or isinstance(backend, Backend):
            stored["timeout"] = None  # a stored limit the new backend may not be able to enforce
        settings = CampaignSettings.from_mapping(stored, source=f"{db}'s stored settings").updated(**overrides)
        options: dict[str, Any] = {}
        if isinstance(backend, Backend):
            options["backend"] = backend
        if surrogate is not None:
            options["surrogate"] = surrogate
        campaign = cls(game if game is not None else load_game(info.game, **info.params),
                       settings, db=db, **options)
        if campaign.game.name != info.game:
            raise SettingsError(f"{db} holds a campaign of game {info.game!r}, not {campaign.game.name!r}")
        target, best = campaign.settings.target, top[0].value if top else None
        if target is not None and best is not None and best >= target:
            raise SettingsError(f"{db} already reached its target {target:g} (best {best:.10g}); "
                                "give a higher --target to continue")
        if campaign.settings.budget is not None and campaign.settings.budget <= done:
            raise SettingsError(f"{db} already has {done} evaluations and its budget is {campaign.settings.budget}; "
                                "give a larger total (--budget) or a number to add (--add N)")
        campaign._resuming = True
        return campaign

    def subscribe(self, callback: Subscriber) -> Subscriber:
        """Call ``callback(event)`` for every event (started, finished, failed, new best...)."""
        self._subscribers.append(callback)
        return callback

    def stop(self) -> None:
        """Ask a running campaign to stop after the evaluations in flight are cancelled (thread-safe)."""
        self._stop.set()

    def run(self) -> CampaignResult:
        """Search until the budget, the time limit, the target, or the game's formulations are used up.

        Calling ``run()`` again continues the same campaign in the same database.
        """
        check_game(self.game, playouts=3, evaluate=False)  # a broken game fails here, before any budget
        store = self._open_store()
        try:
            run = _Run(self, store)
            try:
                result = run.loop()
            except (KeyboardInterrupt, SystemExit):
                _last_word(store, "interrupted", "")
                raise
            except BaseException as exc:
                _last_word(store, "crashed", f"{type(exc).__name__}: {exc}")
                raise
            store.set_status("failed" if result.stopped == "failing" else "finished", reason=result.reason)
            return result
        finally:
            self._resuming = True  # a second run() continues this database
            self._stop.clear()  # a stop() asked for is spent by this run, and only by it
            store.close()

    # -- internals ---------------------------------------------------------------------------
    def _open_store(self) -> Store:
        if self._resuming:
            assert self.db is not None
            store = Store.open(self.db)
            store.set_status("running", settings=self.settings.to_dict())
            if store.campaign().objective != self.game.quantity:  # made before games declared it
                store.set_objective(self.game.quantity)
            return store
        if self.db is None:
            self.db = Path(tempfile.mkdtemp(prefix="discover-")) / f"{self.game.name}.db"
        now = time.time()
        info = CampaignInfo(self.game.name, self.game.parameters(), self.settings.seed, self.settings.to_dict(),
                            __version__, now, now, "running", objective=self.game.quantity)
        return Store.create(self.db, info)


class _FailureStreak:
    """Whether every evaluation so far failed the same way (numbers aside): then the game is broken.

    An infeasible formulation is an answer, not a failure, and counts neither way.
    """

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.kinds: set[tuple[str, str]] = set()
        self.count = 0
        self.broken = False  # a success or a second kind of failure ends the streak for good

    def add(self, outcome: Outcome) -> str | None:
        """The reason to stop, once the first ``limit`` evaluations all failed the same way."""
        if self.broken or self.limit == 0:
            return None
        if outcome.status is Status.OK:
            self.broken = True
            return None
        if outcome.status is Status.INFEASIBLE:
            return None
        self.kinds.add((outcome.status.value, failure_kind(outcome.message)))
        self.count += 1
        if len(self.kinds) > 1:
            self.broken = True
            return None
        if self.count >= self.limit:
            return f"the first {self.count} evaluations all failed the same way ({outcome.status.value}: {outcome.message})"
        return None


class _Run:
    """One execution of a campaign's loop (a fresh one after every resume)."""

    def __init__(self, campaign: Campaign, store: Store) -> None:
        self.c = campaign
        self.s = campaign.settings
        self.game = campaign.game
        self.store = store
        self.done = store.count()
        seed = int(np.random.SeedSequence([self.s.seed, self.done]).generate_state(1)[0])
        estimator = make_estimator(campaign.surrogate, self.game, seed)
        self.proposer = make_proposer(self.s.method, self.game, estimator=estimator,
                                      config=campaign.planner_config, seed=seed)
        self.keeps_tree = isinstance(self.proposer, TreeProposer)
        # a method without a tree of its own still has its evaluations placed in one, along their moves
        self.tree: TreeProposer = self.proposer if self.keeps_tree else Planner(self.game, seed=seed)  # type: ignore[assignment]
        history = upgraded_history(self.game, store.history()) if self.done else []
        self.streak = _FailureStreak(self.s.fail_fast)
        self.limits = KindLimits(self.game)
        self.shortened: dict[int, str] = {}  # proposal id -> why its limit is shorter than the campaign's
        for record in history:
            self.streak.add(record.outcome())
            if record.state is not None:
                self.limits.add(record.state, record.outcome())
        if history:
            self.proposer.replay(history)
            if not self.keeps_tree:
                self.tree.replay(history)
            self.tree.restore_tree(*store.tree(states=True))
        self.best = max((r.value for r in history if r.value is not None), default=None)  # None: nothing ok yet
        done = {r.state_key for r in history}
        # the game's starting formulations not evaluated yet: submitted before the proposer is asked,
        # under ids of their own (negative), and learnt by it as evaluations it did not propose
        keys = [self.game.state_key(state) for state in campaign.starting_states]
        self.starts = [Proposal(-1 - i, state, key, (), ())
                       for i, (state, key) in enumerate(zip(campaign.starting_states, keys)) if key not in done]
        # a proposal of the method's that repeats a starting formulation in flight, by key: it stays
        # pending for the method (which then proposes elsewhere) and is told the start's outcome
        self.adopted: dict[str, Proposal] = {}
        self.inflight: dict[Future[JobResult], Proposal] = {}
        self.cpus: dict[Future[JobResult], float] = {}  # cores each job in flight runs on
        self.started = time.monotonic()
        self.reason = ""

    def commit(self, events: list[Event], evaluation: EvaluationRecord | None = None) -> None:
        """Store events (and what caused them, with the tree changes) first, then tell subscribers."""
        nodes, edges = self.tree.take_dirty()
        if events or evaluation is not None or nodes:
            self.store.record(evaluation=evaluation, nodes=nodes, edges=edges, events=events)
        for event in events:
            for callback in self.c._subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop the campaign
                    log.exception("event subscriber failed on %s", event.kind.value)

    def remaining(self) -> int | None:
        return None if self.s.budget is None else self.s.budget - self.done - len(self.inflight)

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def reason_to_stop(self) -> str | None:
        if self.c._stop.is_set():
            return "stopped"
        if self.reason:
            return "failing"
        if self.s.target is not None and self.best is not None and self.best >= self.s.target:
            return "target"
        if self.s.time_limit is not None and self.elapsed() >= self.s.time_limit:
            return "time"
        return None

    def loop(self) -> CampaignResult:
        c, s = self.c, self.s
        stopped = "budget"
        self.commit([_event(EventKind.CAMPAIGN_STARTED, game=self.game.name, done=self.done, budget=s.budget,
                            db=str(c.db), workers=c.backend.capacity, timeout=c.timeout,
                            advisory_timeout=self.game.default_timeout,
                            timeout_given=s.timeout is not None, time_limit=s.time_limit,
                            objective=self.game.quantity.name, direction=self.game.quantity.direction)])
        c.backend.start(self.game)
        try:
            while True:
                if (why := self.reason_to_stop()) is not None:
                    stopped = why
                    break
                self.refill()
                if not self.inflight:
                    remaining = self.remaining()
                    if remaining is not None and remaining <= 0:
                        stopped = "budget"
                    else:  # every formulation evaluated, or the proposer found nothing new to try
                        stopped = "exhausted" if self.proposer.exhausted else "no-proposals"
                    break
                # wake at least every second, so stop() and the time limit are noticed promptly
                left = 1.0 if s.time_limit is None else max(0.0, min(1.0, s.time_limit - self.elapsed()))
                finished, _ = wait(list(self.inflight), timeout=left, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: self.inflight[f].id):
                    self.finish(future)
        except KeyboardInterrupt:
            stopped = "interrupted"
            raise
        finally:
            c.backend.close()  # cancels what is in flight
            for proposal in [*self.inflight.values(), *self.adopted.values()]:
                if proposal.id >= 0:  # a starting formulation is the campaign's, not the proposer's
                    self.proposer.forget(proposal)
            self.adopted.clear()
            self.inflight.clear()
            self.cpus.clear()
            try:
                self.commit([_event(EventKind.CAMPAIGN_FINISHED, stopped=stopped, done=self.done, best=self.best,
                                    reason=self.reason)])
            except Exception as exc:  # an error already on its way out matters more than this event
                log.warning("could not record the end of the campaign: %s", exc)
        return CampaignResult(
            db=Path(c.db),  # type: ignore[arg-type]
            best=self.store.evaluations(order="best", status=Status.OK.value, limit=10),
            history=self.store.evaluations(),
            root_value=self.proposer.root_value() if self.best is not None else None,
            stopped=stopped,
            reason=self.reason,
        )

    def refill(self) -> None:
        """Ask the proposer for formulations while there are free slots and budget.

        A game that evaluates in batches (``batch_limit`` > 1) has its formulations sent as tasks of
        up to ``batch_limit`` jobs, so each worker can hold that many at once.
        """
        c, per_task = self.c, self.game.batch_limit
        batch = self.s.batch_size or c.backend.capacity * per_task
        slots = max(c.backend.capacity * per_task, batch) - len(self.inflight)
        remaining = self.remaining()
        if remaining is not None:
            slots = min(slots, remaining)
        if slots <= 0:
            return
        wanted = min(slots, batch)
        proposals, self.starts = self.starts[:wanted], self.starts[wanted:]
        for _ in range(2):  # asked again once for the places of repeated starting formulations
            if len(proposals) >= wanted:
                break
            with thread_cap(self.planner_threads()):
                asked = self.proposer.ask(wanted - len(proposals))
            starts = {p.key for p in (*self.inflight.values(), *proposals) if p.id < 0}
            for p in asked:  # the method does not know the starting formulations in flight
                if p.key in starts and p.key not in self.adopted:
                    self.adopted[p.key] = p
                elif p.key in starts:
                    self.proposer.forget(p)
                else:
                    proposals.append(p)
        events = []
        # an inline evaluation cannot be stopped, but is still told the game's own time budget
        limit = c.timeout if c.timeout is not None else self.game.default_timeout
        for start in range(0, len(proposals), per_task):
            task = proposals[start:start + per_task]
            jobs = []
            for p in task:
                job_limit, why = self.limits.limit(p.state, limit)
                if why:
                    self.shortened[p.id] = why
                jobs.append(Job(p.id, p.state, self.game.resources(p.state), _job_seed(self.s.seed, p.key), job_limit))
            for p, job, future in zip(task, jobs, c.backend.submit_batch(jobs)):
                self.inflight[future] = p
                self.cpus[future] = job.resources.cpus / len(jobs)  # a task's jobs share its cores
                shortened = {"limit": job.timeout_seconds, "why": self.shortened[p.id]} if p.id in self.shortened else {}
                events.append(_event(EventKind.EVALUATION_STARTED, state=self.game.describe_state(p.state),
                                     key=p.key, proposal=p.id, **shortened))
        self.commit(events)  # reuses of stored values move tree statistics too

    def planner_threads(self) -> int:
        """The cores the evaluations running beside it leave to the planner (the GP's fits); all of
        them when the backend runs its evaluations on other machines."""
        if not self.c.backend.local:
            return spare_cores(0)
        return spare_cores(math.ceil(sum(cpus for f, cpus in self.cpus.items() if not f.done()) - 1e-9))

    def finish(self, future: Future[JobResult]) -> None:
        proposal = self.inflight.pop(future)
        self.cpus.pop(future, None)
        shortened = self.shortened.pop(proposal.id, "")
        try:
            result = future.result()
        except CancelledError:
            adopted = self.adopted.pop(proposal.key, None) if proposal.id < 0 else proposal
            if adopted is not None:
                self.proposer.forget(adopted)
            return
        outcome = result.outcome
        if shortened and outcome.status is Status.TIMEOUT:
            outcome = replace(outcome, message=f"{outcome.message} ({shortened})")
        self.limits.add(proposal.state, outcome)
        try:
            artifacts = dict(outcome.artifacts)
            to_json(artifacts)
        except (TypeError, ValueError) as exc:
            outcome = Outcome.failure(Status.FAILED, f"artifacts are not JSON-serialisable: {exc}", outcome.cost_seconds)
            artifacts = {}
        # a starting formulation is told to the method's own repeat of it if it made one; else the
        # method learns it below, by replay, as it learns an earlier run's evaluations
        told = self.adopted.pop(proposal.key, None) if proposal.id < 0 else proposal
        if told is not None:
            with thread_cap(self.planner_threads()):
                self.proposer.tell(told, outcome)
        path = told.path if told is not None else ()
        tree = self.tree if told is None or not self.keeps_tree else None
        moves = self.game.moves_of(proposal.state) if tree is not None and hasattr(tree, "record_path") else None
        if moves is not None:
            path = tree.record_path(moves, outcome)  # type: ignore[union-attr]
        self.done += 1
        label = self.game.describe_state(proposal.state)
        data = dict(id=proposal.id, state=label, key=proposal.key, value=outcome.value,
                    status=outcome.status.value, message=outcome.message, cost=outcome.cost_seconds,
                    done=self.done, budget=self.s.budget, worker=result.worker, device=result.device)
        improved = outcome.value is not None and (self.best is None or outcome.value > self.best)
        if improved:
            self.best = outcome.value
        kind = EventKind.EVALUATION_FINISHED if outcome.status is Status.OK else EventKind.EVALUATION_FAILED
        events = [_event(kind, **data, best=self.best)]
        if improved:
            events.append(_event(EventKind.NEW_BEST, **data, best=self.best))
        record = EvaluationRecord(
            state_key=proposal.key, label=label, value=outcome.value, status=outcome.status.value,
            message=outcome.message, cost_seconds=outcome.cost_seconds, artifacts=artifacts,
            worker=result.worker, device=result.device, started=result.started, finished=result.finished,
            encoding=self.game.checked_encoding(proposal.state),
            path=list(path), state=proposal.state, constraints=list(outcome.constraints),
        )
        if told is None:  # its tree has it already (record_path)
            with thread_cap(self.planner_threads()):
                self.proposer.replay([record])
        self.commit(events, evaluation=record)
        self.reason = self.streak.add(outcome) or self.reason


def _last_word(store: Store, status: str, reason: str) -> None:
    """Record how a run ended abnormally, without hiding the error that ended it."""
    try:
        store.set_status(status, reason=reason)
    except Exception as exc:  # e.g. the lock was lost or the disk is gone: the original error matters more
        log.warning("could not record the campaign as %s: %s", status, exc)


def _event(kind: EventKind, **data: Any) -> Event:
    return Event(kind, time.time(), data)


def _job_seed(seed: int, key: str) -> int:
    """A per-formulation seed: the same formulation gets the same seed in every run."""
    return int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:8], 16)


def open(db: str | Path) -> Store:  # noqa: A001 - `discover.open(db)` reads like the builtin it mirrors
    """A stored campaign, read-only: safe while another process is still writing it."""
    return Store.open(db, readonly=True)


__all__ = ["Campaign", "CampaignResult", "DiscoverError", "open"]
