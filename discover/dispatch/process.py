"""The default backend: a pool of worker processes that can be killed one at a time.

``concurrent.futures.ProcessPoolExecutor`` is not used because one dead worker breaks its whole
pool and a running task cannot be stopped. Here each worker owns one pipe; a monitor thread waits
on every pipe, every process sentinel and the nearest deadline, so that:

* an evaluation past its timeout has its worker killed (SIGKILL) and is recorded as TIMEOUT;
* a worker that dies (segfault, ``os._exit``, the kernel's OOM killer) fails only its evaluation;
* either way a fresh worker takes the dead one's place.

Workers are pinned to devices when the machine has GPUs: worker i sees only GPU ``i mod G`` through
CUDA_VISIBLE_DEVICES, set before anything in it can initialise CUDA. Jobs that declare
``gpus > 0`` go to those workers; without GPUs they run on the CPU (``context.device == "cpu"``).
Scripts that use this backend need the usual ``if __name__ == "__main__":`` guard.
"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import pickle
import signal
import threading
import time
from collections import deque
from concurrent.futures import CancelledError, Future
from multiprocessing.connection import Connection, wait

from discover.dispatch.base import Backend, lost_result, run_evaluation
from discover.dispatch.devices import detect_gpus
from discover.game import Game
from discover.types import Job, JobResult, Status

log = logging.getLogger(__name__)


def _watch_parent(parent_pid: int) -> None:
    """End this worker when the campaign process is gone (e.g. killed), so no orphan keeps running."""
    while True:
        time.sleep(1.0)
        if os.getppid() != parent_pid:
            os._exit(1)


def _worker_main(conn: Connection, game_bytes: bytes, name: str, gpu: str | None, parent_pid: int) -> None:
    os.environ["CUDA_VISIBLE_DEVICES"] = gpu if gpu is not None else ""
    threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()
    game: Game = pickle.loads(game_bytes)
    worker = f"{name}/pid{os.getpid()}"
    while True:
        try:
            message = conn.recv()
        except (EOFError, OSError):
            return
        if message is None:
            return
        job, device = message
        result = run_evaluation(game, job, worker, device)
        try:
            conn.send(result)
        except (BrokenPipeError, EOFError, OSError):  # the campaign is gone (killed): end quietly
            return


class _Worker:
    def __init__(self, index: int, gpu: str | None) -> None:
        self.index = index
        self.gpu = gpu
        self.process: mp.process.BaseProcess | None = None
        self.conn: Connection | None = None
        self.job: Job | None = None
        self.future: Future[JobResult] | None = None
        self.device = "cpu"
        self.started = 0.0
        self.deadline = float("inf")

    @property
    def name(self) -> str:
        return f"worker{self.index}" + (f"@gpu{self.gpu}" if self.gpu is not None else "")


def _death_reason(code: int | None) -> str:
    if code is not None and code < 0:
        try:
            return f"killed by signal {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ProcessBackend(Backend):
    """``workers`` processes, each running one evaluation at a time."""

    name = "process"
    enforces_timeouts = True

    def __init__(self, workers: int | None = None, *, gpus: list[str] | None = None,
                 start_method: str = "spawn") -> None:
        workers = workers if workers is not None else (os.cpu_count() or 1)
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        self._ctx = mp.get_context(start_method)
        gpus = detect_gpus() if gpus is None else gpus
        self._workers = [_Worker(i, gpus[i % len(gpus)] if gpus else None) for i in range(workers)]
        self._queue: deque[tuple[Job, Future[JobResult]]] = deque()
        self._lock = threading.Lock()
        self._wake_r, self._wake_w = self._ctx.Pipe(duplex=False)
        self._game_bytes: bytes | None = None
        self._closing = False
        self._thread: threading.Thread | None = None

    @property
    def capacity(self) -> int:
        return len(self._workers)

    def start(self, game: Game) -> None:
        try:
            self._game_bytes = pickle.dumps(game)
        except Exception as exc:
            raise ValueError(
                f"game {game.name!r} cannot be sent to worker processes ({exc}); "
                "define it at module level, or use the inline backend"
            ) from None
        for w in self._workers:
            self._spawn(w)
        self._thread = threading.Thread(target=self._monitor, name="discover-dispatch", daemon=True)
        self._thread.start()

    def submit(self, job: Job) -> Future[JobResult]:
        if self._thread is None:
            raise RuntimeError("ProcessBackend.start(game) must be called before submit()")
        future: Future[JobResult] = Future()
        with self._lock:
            self._queue.append((job, future))
        self._wake_w.send_bytes(b"j")
        return future

    def cancel_all(self) -> None:
        self._cancel(respawn=True)

    def _cancel(self, respawn: bool) -> None:
        """Cancel queued jobs and kill busy workers (replaced by fresh ones only when the pool goes on)."""
        with self._lock:
            while self._queue:
                self._queue.popleft()[1].cancel()
            for w in self._workers:
                if w.future is not None:
                    w.future.set_exception(CancelledError(f"job {w.job.id if w.job else '?'} cancelled"))
                    w.job = w.future = None
                    self._kill(w)
                    if respawn:
                        self._spawn(w)

    def close(self) -> None:
        if self._closing:
            return
        self._cancel(respawn=False)  # busy workers are killed, not replaced only to be shut down
        self._closing = True
        try:
            self._wake_w.send_bytes(b"q")
        except OSError:
            pass
        if self._thread is not None:
            self._thread.join(timeout=10)
        for w in self._workers:
            if w.conn is not None:
                try:
                    w.conn.send(None)
                except OSError:
                    pass
        for w in self._workers:
            if w.process is not None:
                w.process.join(timeout=2)
            self._kill(w)

    # -- worker lifecycle --------------------------------------------------------------------
    def _spawn(self, w: _Worker) -> None:
        parent_conn, child_conn = self._ctx.Pipe()
        w.process = self._ctx.Process(
            target=_worker_main, args=(child_conn, self._game_bytes, w.name, w.gpu, os.getpid()),
            name=f"discover-{w.name}", daemon=True,
        )
        w.process.start()
        child_conn.close()
        w.conn = parent_conn

    def _kill(self, w: _Worker) -> None:
        if w.process is not None and w.process.is_alive():
            w.process.kill()
            w.process.join(timeout=5)
        if w.conn is not None:
            w.conn.close()
        w.process, w.conn = None, None

    def _assign(self) -> None:
        """Hand queued jobs to idle workers (GPU jobs to GPU workers when there are any)."""
        has_gpus = any(w.gpu is not None for w in self._workers)
        waiting: deque[tuple[Job, Future[JobResult]]] = deque()
        while self._queue:
            job, future = self._queue.popleft()
            if future.cancelled():
                continue
            wants_gpu = job.resources.gpus > 0 and has_gpus
            w = next((w for w in self._workers if w.job is None and w.conn is not None
                      and (w.gpu is not None or not wants_gpu)), None)
            if w is None:
                waiting.append((job, future))
                continue
            if not future.set_running_or_notify_cancel():
                continue
            w.job, w.future = job, future
            w.device = "cuda" if wants_gpu else "cpu"
            w.started = time.time()
            w.deadline = w.started + job.timeout_seconds if job.timeout_seconds else float("inf")
            try:
                w.conn.send((job, w.device))  # type: ignore[union-attr]
            except OSError:  # the worker died just now; its sentinel reports it
                pass
        self._queue = waiting

    def _monitor(self) -> None:
        while not self._closing:
            with self._lock:
                self._assign()
                waitables: list = [self._wake_r]
                for w in self._workers:
                    if w.conn is not None and w.process is not None:
                        waitables += [w.conn, w.process.sentinel]
                deadline = min((w.deadline for w in self._workers if w.job is not None), default=float("inf"))
            timeout = None if deadline == float("inf") else max(0.0, deadline - time.time())
            ready = wait(waitables, timeout=timeout)
            with self._lock:
                if self._wake_r in ready:
                    while self._wake_r.poll():
                        self._wake_r.recv_bytes()
                for w in self._workers:
                    self._check(w, ready)

    def _check(self, w: _Worker, ready: list) -> None:
        if w.conn is None or w.process is None:
            return
        if w.conn in ready:
            try:
                result = w.conn.recv()
            except (EOFError, OSError):
                result = None
            if result is not None and w.future is not None:
                w.future.set_result(result)
                w.job = w.future = None
        if w.process.sentinel in ready or not w.process.is_alive():
            w.process.join(timeout=1)
            code = w.process.exitcode
            if w.job is not None and w.future is not None:
                message = f"worker process died ({_death_reason(code)}) while evaluating"
                w.future.set_result(lost_result(w.job, Status.FAILED, message, w.name, w.device, w.started))
                w.job = w.future = None
            log.info("%s died (%s); starting a new one", w.name, _death_reason(code))  # the job records why
            self._kill(w)
            self._spawn(w)
            return
        if w.job is not None and w.future is not None and time.time() >= w.deadline:
            message = f"evaluation exceeded its {w.job.timeout_seconds:g} s limit; worker killed"
            w.future.set_result(lost_result(w.job, Status.TIMEOUT, message, w.name, w.device, w.started))
            w.job = w.future = None
            self._kill(w)
            self._spawn(w)
