"""What a benchmark ran on, recorded next to its figures."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _memory_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 1024**2, 1)
    except OSError:
        pass
    return None


def _git_commit() -> str | None:
    try:
        result = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    return result.stdout.strip()


def machine_info() -> dict[str, Any]:
    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "nproc": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _memory_gib(),
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "git_commit": _git_commit(),
    }


CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def busy_cpu_seconds() -> float:
    """CPU seconds spent non-idle by the whole machine since boot (all cores)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    # user nice system idle iowait irq softirq steal [guest guest_nice, already in user]
    busy = sum(fields[:8]) - fields[3] - fields[4]
    return busy / CLOCK_TICKS


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of one process, all its threads."""
    # The command name in field 2 may hold spaces; the fields after its ")" are fixed.
    after_name = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(after_name[11]) + int(after_name[12])) / CLOCK_TICKS


def machine_busy_percent(interval_s: float = 1.0) -> float:
    """Share of all cores busy over ``interval_s`` (100 = every core flat out)."""
    before = busy_cpu_seconds()
    time.sleep(interval_s)
    return 100 * (busy_cpu_seconds() - before) / (interval_s * (os.cpu_count() or 1))


def wait_until_quiet(max_wait_s: float, threshold_pct: float = 10.0) -> float:
    """Sleep until the machine is below ``threshold_pct`` busy or ``max_wait_s`` passes."""
    deadline = time.monotonic() + max_wait_s
    busy = machine_busy_percent(2.0)
    while busy > threshold_pct and time.monotonic() < deadline:
        busy = machine_busy_percent(2.0)
    return busy
