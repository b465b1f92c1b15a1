"""Evaluation backends behind one interface: inline (debugging), a process pool (default) and Ray
(clusters; imported only when chosen, since Ray is an optional extra)."""

from __future__ import annotations

from discover.dispatch.base import Backend, run_batch, run_evaluation
from discover.dispatch.devices import detect_gpus
from discover.dispatch.inline import InlineBackend
from discover.dispatch.process import ProcessBackend
from discover.errors import SettingsError

BACKENDS = ("inline", "process", "ray")


def make_backend(name: str, workers: int | None = None, *, ray_address: str | None = None, ray_retries: int = 0,
                 artifact_dir: str | None = None) -> Backend:
    """A backend by name, as the CLI and ``Campaign(backend="...")`` spell it."""
    if name == "inline":
        if workers not in (None, 1):
            raise SettingsError("the inline backend runs one evaluation at a time; use --backend process for workers")
        return InlineBackend()
    if name == "process":
        if workers is not None and workers < 1:
            raise SettingsError(f"workers must be at least 1, got {workers}")
        return ProcessBackend(workers)
    if name == "ray":
        from discover.dispatch.ray_backend import RayBackend

        return RayBackend(workers, address=ray_address, retries=ray_retries,
                          **({} if artifact_dir is None else {"artifact_dir": artifact_dir}))
    raise SettingsError(f"unknown backend {name!r}; choose one of {', '.join(BACKENDS)}")


__all__ = ["BACKENDS", "Backend", "InlineBackend", "ProcessBackend", "detect_gpus", "make_backend", "run_batch",
           "run_evaluation"]
