"""CPU time of processes from /proc: a busy machine inflates it far less than wall time."""

import os
import subprocess
import time
from pathlib import Path

TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int | str) -> list[str]:
    return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system) the process used so far, with its children it has reaped.

    An RQ worker forks a work horse per job and waits for it, so the horses count.
    """
    fields = _stat(pid)
    return sum(int(value) for value in fields[11:15]) / TICKS


def cpu_at_exit_s(process: subprocess.Popen[bytes]) -> float:
    """CPU seconds of a process (and its reaped children) over its whole life, once it exits."""
    _pid, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    return usage.ru_utime + usage.ru_stime


def postgres_cpu_s() -> float:
    """CPU seconds of the PostgreSQL server: its live processes plus those already reaped.

    The postmaster's cutime/cstime keep what exited backends used, so a backend ending
    inside the measured window still counts. Every client's backends count, not only ours.
    """
    stats: dict[int, list[str]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdecimal():
            continue
        try:
            if (entry / "comm").read_text().strip() == "postgres":
                stats[int(entry.name)] = _stat(entry.name)
        except OSError:
            continue
    ticks = 0
    for fields in stats.values():
        ticks += int(fields[11]) + int(fields[12])
        if int(fields[1]) not in stats:  # the postmaster: its parent is not a postgres process
            ticks += int(fields[13]) + int(fields[14])
    return ticks / TICKS


def load_average() -> str:
    return Path("/proc/loadavg").read_text().split()[0]


def reference_loop_s() -> float:
    """CPU seconds of a fixed pure-Python loop, the best of three: a rough yardstick for
    CPU figures taken on different machines or days. The same bench and code used about
    twice the CPU per judgment on one session's machine as on the previous session's.
    It sees the interpreter alone: on 2026-11-29 it stayed at 0.09-0.10 s while the same
    code's CPU per post and per judgment rose 20-40% within an hour."""
    best = float("inf")
    for _ in range(3):
        started = time.process_time()
        total = 0
        for step in range(5_000_000):
            total += step
        best = min(best, time.process_time() - started)
    return best
