"""Evaluations in the calling process, one at a time: for debugging and deterministic runs.

It cannot interrupt an evaluation, so it refuses per-evaluation timeouts (``enforces_timeouts`` is
false: a campaign given one says so in one line), and an evaluation that kills its process kills
the campaign; use the process backend for those.
"""

from __future__ import annotations

from concurrent.futures import Future
from typing import Sequence

from discover.dispatch.base import Backend, run_batch
from discover.game import Game
from discover.types import Job, JobResult


class InlineBackend(Backend):
    name = "inline"

    def __init__(self) -> None:
        self._game: Game | None = None

    @property
    def capacity(self) -> int:
        return 1

    def start(self, game: Game) -> None:
        self._game = game

    def submit_batch(self, jobs: Sequence[Job]) -> list[Future[JobResult]]:
        if self._game is None:
            raise RuntimeError("InlineBackend.start(game) must be called before submit()")
        futures: list[Future[JobResult]] = []
        for result in run_batch(self._game, jobs, worker="inline", device="cpu"):
            future: Future[JobResult] = Future()
            future.set_running_or_notify_cancel()
            future.set_result(result)
            futures.append(future)
        return futures

    def cancel_all(self) -> None:
        return None

    def close(self) -> None:
        self._game = None
