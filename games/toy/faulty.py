"""A game whose evaluations misbehave on purpose, to test backends and campaigns.

One move picks an index; the index decides what the evaluation does: return a value, raise, return
NaN, hang, exit its process, or crash it with a segmentation fault. With ``faults=false`` every
evaluation just sleeps ``delay`` seconds and returns a value (the throughput benchmark uses that).
"""

from __future__ import annotations

import math
import os
import signal
import time
from dataclasses import replace
from typing import Sequence

from discover.game import Game, Param
from discover.types import EvalContext, Outcome, Player, Resources

FAULTS = {3: "raise", 5: "nan", 7: "hang", 8: "segfault", 9: "exit"}  # by index modulo 10


class FaultyGame(Game):
    """Pick an index in [0, size); some indices raise, return NaN, hang or kill their worker."""

    name = "toy-faulty"
    params = (
        Param("size", "int", 20, "number of indices (formulations)"),
        Param("delay", "float", 0.0, "seconds a well-behaved evaluation sleeps"),
        Param("faults", "bool", True, "whether indices 3, 5, 7, 8, 9 (mod 10) misbehave"),
        Param("hang_seconds", "float", 3600.0, "how long a hanging evaluation sleeps"),
        Param("gpus", "int", 0, "GPUs each evaluation asks for (to test device placement)"),
        Param("batch", "int", 1, "indices per evaluate_batch call (to test batched dispatch)"),
    )

    def __init__(self, size: int = 20, delay: float = 0.0, faults: bool = True,
                 hang_seconds: float = 3600.0, gpus: int = 0, batch: int = 1) -> None:
        if size < 1:
            raise ValueError("size must be at least 1")
        if batch < 1:
            raise ValueError("batch must be at least 1")
        self.size, self.delay, self.faults, self.hang_seconds = size, delay, faults, hang_seconds
        self.gpus, self.batch = gpus, batch
        self.batch_limit = batch

    def resources(self, state: tuple) -> Resources:
        return Resources(gpus=self.gpus)

    def initial_state(self) -> tuple:
        return ()

    def to_move(self, state: tuple) -> Player:
        return Player.TERMINAL if state else Player.SEARCHER

    def actions(self, state: tuple):
        return tuple(range(self.size))

    def apply(self, state: tuple, action) -> tuple:
        return (action,)

    def fault(self, index: int) -> str | None:
        return FAULTS.get(index % 10) if self.faults else None

    def evaluate(self, state: tuple, context: EvalContext) -> Outcome:
        (index,) = state
        fault = self.fault(index)
        if fault == "raise":
            raise RuntimeError(f"evaluation {index} raised on purpose")
        if fault == "nan":
            return Outcome.ok(math.nan)
        if fault == "hang":
            time.sleep(self.hang_seconds)
        if fault == "segfault":
            os.kill(os.getpid(), signal.SIGSEGV)
        if fault == "exit":
            os._exit(3)
        time.sleep(self.delay)
        return Outcome.ok(index / self.size, {
            "index": index, "device": context.device, "timeout_seconds": context.timeout_seconds,
            "cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES"), "pid": os.getpid(), "batch": 1,
        })

    def evaluate_batch(self, states: Sequence[tuple], context: EvalContext) -> list[Outcome]:
        """Each state as :meth:`evaluate` would, with the size of the batch it came in."""
        outcomes = [self.evaluate(state, context) for state in states]
        return [replace(o, artifacts={**o.artifacts, "batch": len(states)})
                for o in outcomes]
