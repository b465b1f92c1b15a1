"""Campaigns: the loop that spends an evaluation budget on a game, and resumes where it stopped.

``run()`` is only a loop over the planner's ask/tell: ask for formulations while workers are free,
submit them, and as each evaluation finishes tell the planner and commit the evaluation, the tree
statistics it changed and its events in one transaction, before subscribers hear of it and before
the next evaluation is looked at. A campaign killed at any
instant therefore resumes from its store with every finished evaluation and nothing repeated;
evaluations that were in flight are simply proposed again.
"""

from __future__ import annotations

import hashlib
import logging
import tempfile
import time
from concurrent.futures import FIRST_COMPLETED, CancelledError, Future, wait
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from discover import __version__
from discover.dispatch import Backend, make_backend
from discover.errors import DiscoverError, SettingsError
from discover.game import Game, load_game
from discover.methods import check_names, default_surrogate, make_estimator, make_proposer, surrogate_names
from discover.planner import Estimator, PlannerConfig, Proposal
from discover.store import CampaignInfo, Evaluation, Store
from discover.types import Event, EventKind, Job, JobResult, Outcome, Status, to_json

log = logging.getLogger(__name__)

Subscriber = Callable[[Event], None]


@dataclass(frozen=True)
class CampaignResult:
    """What a finished (or stopped) campaign returns."""

    db: Path
    best: list[Evaluation]  # the best OK evaluations, best first
    history: list[Evaluation]  # every evaluation, in the order they finished
    root_value: float | None  # the planner's backed-up value of the game (minimax / expectimax)
    stopped: str  # budget | time | exhausted | no-proposals | interrupted

    @property
    def best_value(self) -> float | None:
        return self.best[0].value if self.best else None


class Campaign:
    """Spend ``budget`` evaluations (and/or ``time_limit`` seconds) searching ``game``.

    ``backend`` is ``"process"`` (default: a pool of ``workers`` processes with per-evaluation
    ``timeout``), ``"inline"`` (one at a time in this process: deterministic for a seed), or a
    :class:`~discover.dispatch.Backend`. ``batch_size`` formulations are chosen at once (virtual
    loss spreads them over the tree); it defaults to the number of workers. ``surrogate`` guides
    the planner (``"gp"``, ``"none"`` for random rollouts, or an Estimator; default ``"gp"`` for
    expensive games); ``method`` is ``"mcts"`` or a baseline (``"random"``, ``"flat-bo"``, ``"tpe"``).
    """

    def __init__(self, game: Game | str, *, budget: int | None = None, time_limit: float | None = None,
                 seed: int = 0, db: str | Path | None = None, backend: str | Backend = "process",
                 workers: int | None = None, batch_size: int | None = None, timeout: float | None = None,
                 planner: PlannerConfig | None = None, surrogate: str | Estimator | None = None,
                 method: str = "mcts", params: dict[str, Any] | None = None) -> None:
        self.game = load_game(game, **(params or {})) if isinstance(game, str) else game
        if params and not isinstance(game, str):
            raise SettingsError("params= is for a game given by name; a game instance already has its parameters")
        if budget is None and time_limit is None:
            raise SettingsError("give a budget (evaluations) and/or a time_limit (seconds)")
        if budget is not None and (isinstance(budget, bool) or not isinstance(budget, int) or budget <= 0):
            raise SettingsError(f"budget must be a positive number of evaluations, got {budget!r}")
        if time_limit is not None and not time_limit > 0:
            raise SettingsError(f"time_limit must be a positive number of seconds, got {time_limit!r}")
        if timeout is not None and not timeout > 0:
            raise SettingsError(f"timeout must be a positive number of seconds, got {timeout!r}")
        if batch_size is not None and batch_size < 1:
            raise SettingsError(f"batch_size must be at least 1, got {batch_size}")
        self.budget = budget
        self.time_limit = time_limit
        self.seed = int(seed)
        self.db = Path(db) if db is not None else None
        self.backend = make_backend(backend, workers) if isinstance(backend, str) else backend
        self.batch_size = batch_size or self.backend.capacity
        self.timeout = timeout
        self.surrogate = surrogate if surrogate is not None else default_surrogate(self.game)
        self.method = method
        check_names(self.surrogate, method)
        guided = self.surrogate != "none"  # a surrogate's acquisition is worth following: PUCT on its priors
        guided_config = PlannerConfig(rule="puct", value_source="prior", descend="deep", exploration=0.5)
        self.planner_config = planner or (guided_config if guided else PlannerConfig())
        self._subscribers: list[Subscriber] = []
        self._resuming = False

    # -- public API --------------------------------------------------------------------------
    @classmethod
    def resume(cls, db: str | Path, *, budget: int | None = None, time_limit: float | None = None,
               backend: str | Backend | None = None, workers: int | None = None,
               game: Game | None = None, surrogate: Estimator | None = None) -> Campaign:
        """The campaign stored in ``db``, ready to ``run()`` on; ``budget`` is a new total."""
        with Store.open(db) as store:
            info = store.campaign()
        s = info.settings
        stored = s.get("surrogate")
        if surrogate is None and isinstance(stored, str) and stored not in surrogate_names():
            raise SettingsError(f"{db} was run with a surrogate object ({stored}); pass it again: "
                                "Campaign.resume(db, surrogate=...)")
        campaign = cls(
            game if game is not None else load_game(info.game, **info.params),
            budget=budget if budget is not None else s.get("budget"),
            time_limit=time_limit if time_limit is not None else s.get("time_limit"),
            seed=info.seed, db=db,
            backend=backend if backend is not None else s.get("backend", "process"),
            workers=workers if workers is not None else (s.get("workers") if backend is None else None),
            batch_size=s.get("batch_size"), timeout=s.get("timeout"),
            planner=PlannerConfig(**s["planner"]) if "planner" in s else None,
            surrogate=surrogate if surrogate is not None else s.get("surrogate"), method=s.get("method", "mcts"),
        )
        if campaign.game.name != info.game:
            raise SettingsError(f"{db} holds a campaign of game {info.game!r}, not {campaign.game.name!r}")
        campaign._resuming = True
        return campaign

    def subscribe(self, callback: Subscriber) -> Subscriber:
        """Call ``callback(event)`` for every event (started, finished, failed, new best...)."""
        self._subscribers.append(callback)
        return callback

    def settings(self) -> dict[str, Any]:
        return {
            "budget": self.budget, "time_limit": self.time_limit, "batch_size": self.batch_size,
            "workers": self.backend.capacity, "backend": self.backend.name, "timeout": self.timeout,
            "planner": asdict(self.planner_config), "method": self.method,
            "surrogate": self.surrogate if isinstance(self.surrogate, str) else type(self.surrogate).__name__,
        }

    def run(self) -> CampaignResult:
        """Search until the budget, the time limit, or the game's formulations are used up."""
        store = self._open_store()
        try:
            return _Run(self, store).loop()
        finally:
            store.close()

    # -- internals ---------------------------------------------------------------------------
    def _open_store(self) -> Store:
        if self._resuming:
            assert self.db is not None
            store = Store.open(self.db)
            store.set_status("running", self.settings())
            return store
        if self.db is None:
            self.db = Path(tempfile.mkdtemp(prefix="discover-")) / f"{self.game.name}.db"
        now = time.time()
        info = CampaignInfo(self.game.name, self.game.parameters(), self.seed, self.settings(),
                            __version__, now, now, "running")
        return Store.create(self.db, info)


class _Run:
    """One execution of a campaign's loop (a fresh one after every resume)."""

    def __init__(self, campaign: Campaign, store: Store) -> None:
        self.c = campaign
        self.game = campaign.game
        self.store = store
        done = store.count()
        seed = int(np.random.SeedSequence([campaign.seed, done]).generate_state(1)[0])
        estimator = make_estimator(campaign.surrogate, self.game, seed)
        self.planner = make_proposer(campaign.method, self.game, estimator=estimator,
                                     config=campaign.planner_config, seed=seed)
        evaluated = store.evaluated()
        if done:
            nodes, edges = store.tree()
            self.planner.restore(nodes, edges, evaluated, store.history())
        self.done = done
        self.best = max((v for v in evaluated.values() if v is not None), default=None)
        self.inflight: dict[Future[JobResult], Proposal] = {}
        self.started = time.monotonic()

    def commit(self, events: list[Event], **changes: Any) -> None:
        """Store events (and what caused them) first, then tell subscribers."""
        self.store.record(events=events, **changes)
        for event in events:
            for callback in self.c._subscribers:
                try:
                    callback(event)
                except Exception:  # a subscriber's bug must not stop the campaign
                    log.exception("event subscriber failed on %s", event.kind.value)

    def remaining(self) -> int | None:
        return None if self.c.budget is None else self.c.budget - self.done - len(self.inflight)

    def time_up(self) -> bool:
        return self.c.time_limit is not None and time.monotonic() - self.started >= self.c.time_limit

    def loop(self) -> CampaignResult:
        c = self.c
        stopped = "budget"
        self.commit([_event(EventKind.CAMPAIGN_STARTED, game=self.game.name, done=self.done,
                            budget=c.budget, db=str(c.db), workers=c.backend.capacity)])
        c.backend.start(self.game)
        try:
            while True:
                if self.time_up():
                    stopped = "time"
                    break
                self.refill()
                if not self.inflight:
                    remaining = self.remaining()
                    if remaining is not None and remaining <= 0:
                        stopped = "budget"
                    else:  # every formulation evaluated, or the planner found nothing new to try
                        stopped = "exhausted" if self.planner.exhausted else "no-proposals"
                    break
                left = None if c.time_limit is None else max(0.0, c.time_limit - (time.monotonic() - self.started))
                finished, _ = wait(list(self.inflight), timeout=left, return_when=FIRST_COMPLETED)
                for future in sorted(finished, key=lambda f: self.inflight[f].id):
                    self.finish(future)
        except KeyboardInterrupt:
            stopped = "interrupted"
            raise
        finally:
            c.backend.cancel_all()
            for proposal in self.inflight.values():
                self.planner.forget(proposal)
            self.inflight.clear()
            c.backend.close()
            self.commit([_event(EventKind.CAMPAIGN_FINISHED, stopped=stopped, done=self.done, best=self.best)])
            self.store.set_status("interrupted" if stopped == "interrupted" else "finished")
        return CampaignResult(
            db=Path(c.db),  # type: ignore[arg-type]
            best=self.store.evaluations(order="best", status=Status.OK.value, limit=10),
            history=self.store.evaluations(),
            root_value=self.planner.root_value(),
            stopped=stopped,
        )

    def refill(self) -> None:
        """Ask the planner for formulations while there are free slots and budget."""
        c = self.c
        slots = max(c.backend.capacity, c.batch_size) - len(self.inflight)
        remaining = self.remaining()
        if remaining is not None:
            slots = min(slots, remaining)
        if slots <= 0:
            return
        proposals = self.planner.ask(min(slots, c.batch_size))
        events = []
        for p in proposals:
            job = Job(p.id, p.state, self.game.resources(p.state), _job_seed(c.seed, p.key), c.timeout)
            self.inflight[c.backend.submit(job)] = p
            events.append(_event(EventKind.EVALUATION_STARTED, state=self.game.describe_state(p.state),
                                 key=p.key, proposal=p.id))
        changes = self._tree_changes()  # reuses of stored values move statistics too
        if events or changes["nodes"]:
            self.commit(events, **changes)

    def finish(self, future: Future[JobResult]) -> None:
        proposal = self.inflight.pop(future)
        try:
            result = future.result()
        except CancelledError:
            self.planner.forget(proposal)
            return
        outcome = result.outcome
        try:
            artifacts = to_json(dict(outcome.artifacts))
        except (TypeError, ValueError) as exc:
            outcome = Outcome.failure(Status.FAILED, f"artifacts are not JSON-serialisable: {exc}", outcome.cost_seconds)
            artifacts = "{}"
        self.planner.tell(proposal, outcome)
        self.done += 1
        label = self.game.describe_state(proposal.state)
        data = dict(id=proposal.id, state=label, key=proposal.key, value=outcome.value,
                    status=outcome.status.value, message=outcome.message, cost=outcome.cost_seconds,
                    done=self.done, budget=self.c.budget, worker=result.worker, device=result.device)
        improved = outcome.value is not None and (self.best is None or outcome.value > self.best)
        if improved:
            self.best = outcome.value
        kind = EventKind.EVALUATION_FINISHED if outcome.status is Status.OK else EventKind.EVALUATION_FAILED
        events = [_event(kind, **data, best=self.best)]
        if improved:
            events.append(_event(EventKind.NEW_BEST, **data, best=self.best))
        evaluation = dict(
            state_key=proposal.key, state=proposal.state, label=label, encoding=self._encode(proposal.state),
            value=outcome.value, status=outcome.status.value, message=outcome.message,
            cost_seconds=outcome.cost_seconds, artifacts=artifacts, worker=result.worker, device=result.device,
            started=result.started, finished=result.finished, path=proposal.path,
        )
        self.commit(events, evaluation=evaluation, **self._tree_changes())

    def _tree_changes(self) -> dict[str, Any]:
        nodes, edges = self.planner.take_dirty()
        return {
            "nodes": nodes,
            "labels": {n.key: self.game.describe_state(n.state) for n in nodes},
            "edges": [(p, ch, a, self.game.describe_action(a)) for p, ch, a in edges],
        }

    def _encode(self, state: Any) -> Sequence[float] | None:
        if not self.game.features():
            return None
        try:
            return [float(x) for x in self.game.encode(state)]
        except Exception as exc:  # a broken encoder loses the encoding, not the evaluation
            log.warning("encode() failed on %r: %s", state, exc)
            return None


def _event(kind: EventKind, **data: Any) -> Event:
    return Event(kind, time.time(), data)


def _job_seed(seed: int, key: str) -> int:
    """A per-formulation seed: the same formulation gets the same seed in every run."""
    return int(hashlib.sha1(f"{seed}:{key}".encode()).hexdigest()[:8], 16)


def open(db: str | Path) -> Store:  # noqa: A001 - `discover.open(db)` reads like the builtin it mirrors
    """A stored campaign, read-only: safe while another process is still writing it."""
    return Store.open(db, readonly=True)


__all__ = ["Campaign", "CampaignResult", "DiscoverError", "open"]
