"""A backend on a Ray cluster: each task is a Ray task placed by the resources its jobs declare.

Where the process backend keeps workers on one machine, Ray spreads tasks over a cluster's nodes:
``Resources.cpus``, ``gpus`` and ``memory_gb`` become the task's ``num_cpus``, ``num_gpus`` and
``memory``, so GPU jobs land on GPU nodes (Ray sets CUDA_VISIBLE_DEVICES for them) and large SDPs on
nodes with the memory. Tasks are placed with Ray's ``SPREAD`` strategy: an evaluation is heavy, so
it goes to the least loaded node that fits rather than Ray's default of filling the driver's node
first. The driver, where the campaign runs, keeps the SQLite store.

* **Timeouts that really stop a task.** A task first yields a marker when it starts running (it is a
  streaming generator), so time spent waiting for a free node does not count. Past its limit it is
  cancelled with ``ray.cancel(force=True)``, which kills the worker process, and recorded as TIMEOUT.
* **Lost workers and nodes** (a crash, the OOM killer, a node that died) fail only their task, with
  Ray's reason, or the task is retried ``retries`` times first.
* **Large artifacts** do not pass through the driver: a result whose artifacts exceed
  ``inline_artifact_bytes`` as JSON is written by the worker to ``artifact_dir`` (storage every node
  sees; by default ``./discover-artifacts`` for a local instance, none for a cluster joined, whose
  nodes would each write to their own disk) and stored as a reference to that file.
* **A job no node can hold** (more CPUs, GPUs or memory than the largest node has) fails at once
  with the reason, instead of waiting forever for Ray to place it.
* A task retried after a lost worker keeps the time limit it started with (its clock is not reset).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import socket
import threading
import time
from concurrent.futures import CancelledError, Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Sequence

from discover.dispatch.base import Backend, lost_result, run_batch, task_limit, task_resources
from discover.errors import SettingsError
from discover.game import Game
from discover.types import Job, JobResult, Status

log = logging.getLogger(__name__)

_STARTED = "started"
_games: dict[str, Game] = {}  # in each Ray worker: the campaign's game, unpickled once


def _task(game_box: list, jobs: Sequence[Job], device: str, artifact_dir: str | None, inline_limit: int):
    """The body of every Ray task: say it started, then evaluate (a generator: see the module doc)."""
    import ray

    yield _STARTED
    if device == "cpu":  # Ray sets CUDA_VISIBLE_DEVICES only for tasks holding GPUs; the rest see none
        os.environ["CUDA_VISIBLE_DEVICES"] = ""
    ref = game_box[0]  # boxed, so that Ray hands the worker the reference and the game is unpickled once
    game = _games.get(ref.hex())
    if game is None:
        game = _games.setdefault(ref.hex(), ray.get(ref))
    node = ray.get_runtime_context().get_node_id()[:8]
    worker = f"ray@{ray.util.get_node_ip_address()}:{node}/pid{os.getpid()}"
    yield [offload(result, artifact_dir, inline_limit) for result in run_batch(game, jobs, worker, device)]


def offload(result: JobResult, folder: str | None, limit: int) -> JobResult:
    """``result`` with its artifacts written to ``folder`` when they exceed ``limit`` bytes of JSON."""
    outcome = result.outcome
    if folder is None or not outcome.artifacts:
        return result
    try:
        text = json.dumps(outcome.artifacts)
    except (TypeError, ValueError):  # the campaign records unserialisable artifacts as a failure
        return result
    if len(text) <= limit:
        return result
    path = Path(folder) / f"job{result.job.id}-{hashlib.sha1(text.encode()).hexdigest()[:12]}.json"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:  # the evaluation succeeded: keep its artifacts inline rather than lose it
        artifacts = {**outcome.artifacts, "artifacts_error": f"could not write {path}: {exc.strerror or exc}"}
    else:
        artifacts = {"artifacts_file": str(path), "artifacts_bytes": len(text)}
    moved = replace(outcome, artifacts=artifacts)
    return JobResult(result.job, moved, result.worker, result.device, result.started, result.finished)


def _probe(address: str | None) -> None:
    """Refuse an address nobody listens on at once (Ray itself retries for minutes)."""
    host, _, port = (address or "").rpartition(":")
    if not host or not port.isdigit():
        return  # "auto", None (start a local cluster) or a ray:// URL: Ray reports these itself
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except OSError as exc:
        raise SettingsError(f"cannot reach the Ray cluster at {address}: {exc.strerror or exc}; start one with "
                            "`ray start --head`, or leave --ray-address out to start a local one") from None


def _token_if_available() -> None:
    """Authenticate with the local Ray token when there is one, as ``ray start`` does: a cluster
    started where a token exists asks for it, and Ray's driver does not offer it unless told to."""
    if "RAY_AUTH_MODE" in os.environ:
        return
    path = Path(os.environ.get("RAY_AUTH_TOKEN_PATH") or Path.home() / ".ray" / "auth_token")
    if os.environ.get("RAY_AUTH_TOKEN") or path.is_file():
        os.environ["RAY_AUTH_MODE"] = "token"


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _unauthenticated(exc: BaseException | None) -> bool:
    """Whether Ray refused the connection for want of the cluster's authentication token."""
    while exc is not None:
        if type(exc).__name__ == "AuthenticationError":
            return True
        exc = exc.__cause__ or exc.__context__
    return False


@dataclass(eq=False)
class _Task:
    jobs: list[Job]
    futures: list[Future[JobResult]]
    device: str
    limit: float | None
    submitted: float  # unix time, on the driver
    started: float | None = None  # monotonic, on the driver, when the start marker arrived


class RayBackend(Backend):
    """Tasks on a Ray cluster: an existing one (``address`` "auto" or "HOST:PORT", or RAY_ADDRESS),
    or a local one started here when neither is given. ``workers`` caps the tasks in flight
    (default: the cluster's CPUs)."""

    name = "ray"
    enforces_timeouts = True

    def __init__(self, workers: int | None = None, *, address: str | None = None, retries: int = 0,
                 artifact_dir: str | Path | None = None, inline_artifact_bytes: int = 1 << 16) -> None:
        try:
            import ray
        except ImportError:
            raise SettingsError("the ray backend needs Ray: pip install 'discover[ray]'") from None
        if workers is not None and workers < 1:
            raise SettingsError(f"workers must be at least 1, got {workers}")
        if retries < 0:
            raise SettingsError(f"retries must be 0 or more, got {retries}")
        self._ray = ray
        self._address = address or os.environ.get("RAY_ADDRESS") or None
        self._connected_here = False
        self._connect()
        resources = ray.cluster_resources()
        self._gpus = int(resources.get("GPU", 0))
        self._workers = workers if workers is not None else max(1, int(resources.get("CPU", 1)))
        self._retries = retries
        self.local = self._address is None  # a cluster joined runs its evaluations on other machines
        if artifact_dir is None and self.local:
            artifact_dir = "discover-artifacts"
        self._artifact_dir = None if artifact_dir is None else str(Path(artifact_dir).absolute())
        self._inline_limit = inline_artifact_bytes
        self._tasks: dict[Any, _Task] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._closing = False
        self._thread: threading.Thread | None = None
        self._remote: Any = None
        self._game_box: list = []
        self._nodes: list[dict[str, float]] = []  # the alive nodes' resources, read now and then
        self._nodes_read = -math.inf

    def _connect(self) -> None:
        """Join the cluster (or start a local one), unless this process already has (e.g. the user's
        own ``ray.init``: then it is left connected on close)."""
        ray, address = self._ray, self._address
        if ray.is_initialized():
            return
        if address:
            _probe(address)
            _token_if_available()
        try:
            # "local": a new instance, never a cluster some earlier `ray start` left recorded in /tmp/ray
            ray.init(address=address or "local", include_dashboard=False, log_to_driver=False,
                     logging_level=logging.WARNING)
        except (ConnectionError, RuntimeError, ValueError) as exc:
            raise SettingsError(f"cannot reach the Ray cluster at {address}: {_first_line(exc)}; "
                                + ("the cluster asks for a token: set RAY_AUTH_MODE=token here (the token is "
                                   "read from ~/.ray/auth_token or RAY_AUTH_TOKEN)" if _unauthenticated(exc)
                                   else "start one with `ray start --head`, or leave --ray-address out to "
                                        "start a local one")) from None
        self._connected_here = True

    @property
    def capacity(self) -> int:
        return self._workers

    def start(self, game: Game) -> None:
        self._connect()  # again, when a campaign runs a second time after close()
        self._closing = False
        self._game_box = [self._ray.put(game)]
        self._remote = self._ray.remote(_task)
        self._thread = threading.Thread(target=self._monitor, name="discover-ray", daemon=True)
        self._thread.start()

    def submit_batch(self, jobs: Sequence[Job]) -> list[Future[JobResult]]:
        if self._thread is None:
            raise RuntimeError("RayBackend.start(game) must be called before submit()")
        jobs = list(jobs)
        needs = task_resources(jobs)
        gpus = needs.gpus if self._gpus else 0  # no GPU in the cluster: run on the CPU, as locally
        options: dict[str, Any] = dict(num_returns="streaming", num_cpus=needs.cpus, num_gpus=gpus,
                                       max_retries=self._retries, retry_exceptions=False, scheduling_strategy="SPREAD")
        if needs.memory_gb:
            options["memory"] = int(needs.memory_gb * 2**30)
        task = _Task(jobs, [Future() for _ in jobs], "cuda" if gpus else "cpu", task_limit(jobs), time.time())
        reason = self._unplaceable(needs.cpus, gpus, needs.memory_gb)
        if reason:
            self._resolve(task, [lost_result(j, Status.FAILED, reason, "ray", task.device, task.submitted) for j in jobs])
            return task.futures
        generator = self._remote.options(**options).remote(self._game_box, jobs, task.device, self._artifact_dir,
                                                           self._inline_limit)
        with self._lock:
            self._tasks[generator] = task
        self._wake.set()
        return task.futures

    def _unplaceable(self, cpus: int, gpus: int, memory_gb: float) -> str:
        """Why no node of the cluster can ever run a task needing this much ('' when one can)."""
        if time.monotonic() - self._nodes_read > 30:  # nodes join and leave: look again now and then
            self._nodes = [n.get("Resources", {}) for n in self._ray.nodes() if n.get("Alive")]
            self._nodes_read = time.monotonic()
        nodes = self._nodes
        fits = any(n.get("CPU", 0) >= cpus and n.get("GPU", 0) >= gpus and n.get("memory", 0) >= memory_gb * 2**30
                   for n in nodes)
        if fits or not nodes:
            return ""
        largest = max(nodes, key=lambda n: (n.get("CPU", 0), n.get("GPU", 0), n.get("memory", 0)))
        return (f"no Ray node can hold this evaluation ({cpus} CPUs, {gpus} GPUs, {memory_gb:g} GB asked; the "
                f"largest has {largest.get('CPU', 0):g} CPUs, {largest.get('GPU', 0):g} GPUs, "
                f"{largest.get('memory', 0) / 2**30:.1f} GB): add such a node, or ask for less in Game.resources")

    def cancel_all(self) -> None:
        with self._lock:
            tasks, self._tasks = self._tasks, {}
        for generator, task in tasks.items():
            self._cancel(generator)
            for f in task.futures:
                f.set_exception(CancelledError("cancelled"))

    def close(self) -> None:
        if self._closing:
            return
        self.cancel_all()
        self._closing = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self._connected_here:
            self._ray.shutdown()
            self._connected_here = False

    def _cancel(self, generator: Any) -> None:
        try:
            self._ray.cancel(generator, force=True)
        except Exception as exc:  # already finished or its node is gone: nothing left to stop
            log.debug("ray.cancel: %s", exc)

    def _monitor(self) -> None:
        """Take start markers and results as they come, and cancel tasks past their limits; if that
        fails (the head node is gone), every task in flight fails with the reason."""
        while not self._closing:
            try:
                self._watch()
            except Exception as exc:
                log.warning("the Ray backend lost track of its tasks: %s", exc)
                with self._lock:
                    lost, self._tasks = self._tasks, {}
                message = f"the Ray backend lost track of this task ({type(exc).__name__}: {_first_line(exc)})"
                for task in lost.values():
                    self._resolve(task, [lost_result(j, Status.FAILED, message, "ray", task.device, task.submitted)
                                         for j in task.jobs])
                time.sleep(1.0)

    def _watch(self) -> None:
        ray = self._ray
        while not self._closing:
            with self._lock:
                running = dict(self._tasks)
            if not running:
                self._wake.wait(0.5)
                self._wake.clear()
                continue
            now = time.monotonic()
            deadlines = [t.started + t.limit for t in running.values() if t.started is not None and t.limit]
            wait = max(0.0, min([0.2, *[d - now for d in deadlines]]))
            ready, _ = ray.wait(list(running), num_returns=1, timeout=wait)
            if ready:
                ready, _ = ray.wait(list(running), num_returns=len(running), timeout=0)
            for generator in ready:
                self._take(generator, running[generator])
            now = time.monotonic()
            for generator, task in running.items():
                if task.started is not None and task.limit and now - task.started >= task.limit \
                        and self._pop(generator):
                    self._cancel(generator)
                    message = f"evaluation exceeded its {task.limit:g} s limit; Ray task cancelled, worker killed"
                    self._resolve(task, [lost_result(j, Status.TIMEOUT, message, "ray", task.device,
                                                     time.time() - task.limit) for j in task.jobs])

    def _take(self, generator: Any, task: _Task) -> None:
        try:
            item = self._ray.get(next(generator))
        except StopIteration:
            item = None
        except Exception as exc:  # a lost worker or node, or the task could not run at all
            if self._pop(generator):
                message = f"Ray task failed ({type(exc).__name__}: {_first_line(exc)})"
                self._resolve(task, [lost_result(j, Status.FAILED, message, "ray", task.device, task.submitted)
                                     for j in task.jobs])
            return
        if item == _STARTED:
            task.started = time.monotonic()
        elif self._pop(generator):
            if item is None:
                item = [lost_result(j, Status.FAILED, "Ray task ended without a result", "ray", task.device,
                                    task.submitted) for j in task.jobs]
            self._resolve(task, item)

    def _pop(self, generator: Any) -> bool:
        """Remove a task from those in flight; False when cancel_all took it first."""
        with self._lock:
            return self._tasks.pop(generator, None) is not None

    @staticmethod
    def _resolve(task: _Task, results: list[JobResult]) -> None:
        for f, result in zip(task.futures, results):
            f.set_result(result)
