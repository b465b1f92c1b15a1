"""Which accelerators this machine has, found without importing torch (which is slow to import)."""

from __future__ import annotations

import os
import shutil
import subprocess


def detect_gpus() -> list[str]:
    """GPU ids usable here: CUDA_VISIBLE_DEVICES when set, else what ``nvidia-smi -L`` lists."""
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        out = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20, check=True).stdout
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(i) for i, line in enumerate(line for line in out.splitlines() if line.startswith("GPU "))]
