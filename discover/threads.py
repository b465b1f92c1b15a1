"""How many threads a computation may use, so that the planner and the workers share the cores.

A campaign's planner (GP fits, acquisition optimisation) runs beside k workers that each run one
evaluation with ``Resources.cpus`` threads. Left alone, torch and BLAS would each start one thread
per core in every process and fight over the cores: on two cores, with one worker busy, a GP-guided
decision ran five times slower. :func:`thread_cap` bounds torch (``set_num_threads``) and BLAS/OpenMP
(threadpoolctl) for the duration of a block; :func:`spare_cores` is what the busy workers leave.
"""

from __future__ import annotations

import os
import sys
from contextlib import contextmanager
from typing import Iterator

from threadpoolctl import ThreadpoolController


def cores() -> int:
    """The cores this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def spare_cores(busy: int) -> int:
    """Threads for the planner while ``busy`` cores run evaluations (at least one)."""
    return max(1, cores() - busy)


_controller: ThreadpoolController | None = None
_modules_seen = 0


def _blas() -> ThreadpoolController:
    """threadpoolctl's view of the loaded BLAS/OpenMP libraries. Finding them reads the process's
    memory map (half a millisecond, as long as a UCT iteration), so it is redone only after new
    modules were imported (which is when a new library can appear)."""
    global _controller, _modules_seen
    if _controller is None or len(sys.modules) != _modules_seen:
        _controller, _modules_seen = ThreadpoolController(), len(sys.modules)
    return _controller


@contextmanager
def thread_cap(threads: int) -> Iterator[None]:
    """BLAS/OpenMP and torch use at most ``threads`` threads in this block; restored afterwards."""
    torch = sys.modules.get("torch")  # only a process that imported torch needs torch capped
    before = torch.get_num_threads() if torch is not None else None
    with _blas().limit(limits=threads):
        if torch is not None:
            torch.set_num_threads(threads)
        try:
            yield
        finally:
            if torch is not None:
                torch.set_num_threads(before)
