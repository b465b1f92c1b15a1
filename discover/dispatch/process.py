"""The default backend: worker processes managed by pebble's ``ProcessPool``.

pebble is used rather than ``concurrent.futures.ProcessPoolExecutor`` because one dead worker breaks
an executor's whole pool and a running task cannot be stopped there. pebble's pool

* kills a worker whose task passes its timeout (the job is recorded as TIMEOUT),
* replaces a worker that died (segfault, ``os._exit``, the kernel's OOM killer), failing only its task,
* kills the worker of a running task that is cancelled.

Workers are pinned to devices when the machine has GPUs: one pool per GPU, whose workers see only
that GPU through CUDA_VISIBLE_DEVICES (worker i goes to GPU ``i mod G``). Jobs that declare
``gpus > 0`` go to those pools; without GPUs they run on the CPU (``context.device == "cpu"``).
Each worker also ends itself when the campaign process is gone (killed), so none outlives it.
Scripts that use this backend need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
from concurrent.futures import CancelledError, Future
from concurrent.futures import TimeoutError as TaskTimeout
from dataclasses import dataclass, field
from typing import Sequence

from pebble import ProcessExpired, ProcessPool

from discover.dispatch.base import Backend, lost_result, run_batch, task_limit, task_resources
from discover.dispatch.devices import detect_gpus
from discover.game import Game
from discover.types import Job, JobResult, Status

_game: Game | None = None  # the game, in each worker process
_worker_name = ""


def _watch_parent(parent_pid: int) -> None:
    """End this worker when the campaign process is gone (e.g. killed), so no orphan keeps running."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def _init_worker(game_bytes: bytes, name: str, gpu: str | None, parent_pid: int) -> None:
    global _game, _worker_name
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu if gpu is not None else ""  # before anything starts CUDA
    # Ctrl-C at a terminal reaches the whole process group: the campaign stops its workers itself,
    # and a worker's own KeyboardInterrupt traceback would only be printed over its panel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    _game = pickle.loads(game_bytes)
    _worker_name = name


def _run_task(jobs: Sequence[Job], device: str) -> list[JobResult]:
    assert _game is not None, "worker started without its game"
    return run_batch(_game, jobs, f"{_worker_name}/pid{os.getpid()}", device)


@dataclass(eq=False)
class _Pool:
    """One pebble pool: all CPU workers, or the workers of one GPU."""

    gpu: str | None
    size: int
    pool: ProcessPool | None = None
    busy: int = 0  # tasks submitted and not yet finished
    running: set = field(default_factory=set)  # pebble futures of those tasks

    @property
    def name(self) -> str:
        return "worker" if self.gpu is None else f"worker@gpu{self.gpu}"


def _death_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessBackend(Backend):
    """``workers`` processes, each running one task at a time."""

    name = "process"
    enforces_timeouts = True

    def __init__(self, workers: int | None = None, *, gpus: list[str] | None = None,
                 start_method: str = "spawn") -> None:
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._ctx = mp.get_context(start_method)
        gpus = detect_gpus() if gpus is None else gpus
        self._workers = workers
        if gpus:
            sizes = [len(range(i, workers, len(gpus))) for i in range(min(workers, len(gpus)))]
            self._pools = [_Pool(gpu, size) for gpu, size in zip(gpus, sizes)]
        else:
            self._pools = [_Pool(None, workers)]
        self._lock = threading.Lock()
        self._closed = False

    @property
    def capacity(self) -> int:
        return self._workers

    def start(self, game: Game) -> None:
        try:
            game_bytes = pickle.dumps(game)
        except Exception as exc:
            raise ValueError(
                f"game {game.name!r} cannot be sent to worker processes ({exc}); "
                "define it at module level, or use the inline backend"
            ) from None
        self._closed = False  # a campaign run again starts its backend again
        for p in self._pools:
            p.busy, p.running = 0, set()
            p.pool = ProcessPool(max_workers=p.size, initializer=_init_worker,
                                 initargs=(game_bytes, p.name, p.gpu, os.getpid()), context=self._ctx)

    def submit_batch(self, jobs: Sequence[Job]) -> list[Future[JobResult]]:
        if any(p.pool is None for p in self._pools):
            raise RuntimeError("ProcessBackend.start(game) must be called before submit()")
        jobs = list(jobs)
        futures: list[Future[JobResult]] = [Future() for _ in jobs]
        wants_gpu = task_resources(jobs).gpus > 0 and self._pools[0].gpu is not None
        device = "cuda" if wants_gpu else "cpu"
        with self._lock:
            pool = min(self._pools, key=lambda p: p.busy / p.size)  # GPU pools only exist with GPUs
            pool.busy += 1
            submitted = time.time()
            task = pool.pool.schedule(_run_task, args=(jobs, device), timeout=task_limit(jobs))  # type: ignore[union-attr]
            pool.running.add(task)
        task.add_done_callback(lambda t: self._finished(pool, t, jobs, futures, device, submitted))
        return futures

    def _finished(self, pool: _Pool, task: Future, jobs: list[Job], futures: list[Future[JobResult]],
                  device: str, submitted: float) -> None:
        with self._lock:
            pool.busy -= 1
            pool.running.discard(task)
        if task.cancelled():
            for f in futures:
                f.set_exception(CancelledError("cancelled"))
            return
        try:
            results = task.result()
        except TaskTimeout:
            limit = task_limit(jobs) or 0.0
            message = f"evaluation exceeded its {limit:g} s limit; worker killed"
            results = [lost_result(j, Status.TIMEOUT, message, pool.name, device, time.time() - limit) for j in jobs]
        except ProcessExpired as exc:
            message = f"worker process died ({_death_reason(exc.exitcode)}) while evaluating"
            results = [lost_result(j, Status.FAILED, message, f"{pool.name}/pid{exc.pid}", device, submitted)
                       for j in jobs]
        except CancelledError:
            for f in futures:
                f.set_exception(CancelledError("cancelled"))
            return
        except Exception as exc:  # the pool could not run or return the task (e.g. an unpicklable result)
            message = f"{type(exc).__name__}: {exc}"
            results = [lost_result(j, Status.FAILED, message, pool.name, device, submitted) for j in jobs]
        for f, result in zip(futures, results):
            f.set_result(result)

    def cancel_all(self) -> None:
        """Cancel queued tasks and kill the workers of running ones (pebble starts fresh workers)."""
        with self._lock:
            tasks = [t for p in self._pools for t in p.running]
        for t in tasks:
            t.cancel()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.cancel_all()
        for p in self._pools:
            if p.pool is not None:
                p.pool.stop()  # workers are stopped, not replaced
        for p in self._pools:
            if p.pool is not None:
                try:
                    p.pool.join(timeout=10)
                except TimeoutError:  # a worker ignoring SIGTERM; pebble has sent it SIGKILL
                    pass
