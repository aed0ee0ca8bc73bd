"""`judge-service worker --processes N`: N worker processes under one parent.

Each child is the plain `judge-service worker` command (its own RQ worker, maintenance loop
and Redis connections, nothing inherited across a fork), in a session of its own so a
terminal's Ctrl-C reaches the parent only: RQ takes a second signal as an order for a cold
shutdown, so the parent decides when a child gets one.

Stopping is bounded: on SIGTERM or SIGINT each child gets one SIGTERM (a warm shutdown: its
job stores the calls in flight and releases the rest). A child still running
`stop_timeout_s` later gets a second (RQ's cold shutdown, which kills its work horse), and
`COLD_GRACE_S` after that it is killed. Claims of a job cut short come back with the
reconcile after their lease, as a killed worker's do. Outside burst mode, a child that
exits unasked is started again.
"""

import logging
import signal
import subprocess
import sys
import time
from types import FrameType

log = logging.getLogger(__name__)
POLL_S = 0.2
COLD_GRACE_S = 5.0


class WorkerProcesses:
    def __init__(
        self, count: int, name: str | None, args: list[str], burst: bool, stop_timeout_s: float
    ) -> None:
        """`args`: the worker options every child gets; child k is named `name-k` if named."""
        self._name = name
        self._args = [*args, "--burst"] if burst else args
        self._burst = burst
        self._stop_timeout_s = stop_timeout_s
        self._stopping = False
        self._cold = False
        self._deadline = 0.0
        self._started = 0
        self.children = [self._start() for _ in range(count)]

    def _start(self) -> subprocess.Popen[bytes]:
        self._started += 1
        named = [f"--name={self._name}-{self._started}"] if self._name else []
        command = [sys.executable, "-m", "judge_service", "worker", *self._args, *named]
        child = subprocess.Popen(command, start_new_session=True)
        log.info("worker process %d started", child.pid)
        return child

    def request_stop(self, signum: int, frame: FrameType | None) -> None:
        """A warm shutdown of every child (a second signal here changes nothing)."""
        if self._stopping:
            return
        self._stopping = True
        self._deadline = time.monotonic() + self._stop_timeout_s
        log.info("stopping %d worker processes", len(self.children))
        self._signal(self._running(), "warm shutdown")

    def run(self) -> int:
        """Until every child has exited; the largest exit code of theirs."""
        signal.signal(signal.SIGTERM, self.request_stop)
        signal.signal(signal.SIGINT, self.request_stop)
        while True:
            self._respawn()
            running = self._running()
            if not running:
                worst: int = max(abs(child.returncode or 0) for child in self.children)
                return worst
            if self._stopping and time.monotonic() > self._deadline:
                self._escalate(running)
            time.sleep(POLL_S)

    def _running(self) -> list[subprocess.Popen[bytes]]:
        return [child for child in self.children if child.poll() is None]

    def _escalate(self, running: list[subprocess.Popen[bytes]]) -> None:
        """Past the stop timeout: RQ's cold shutdown; past its grace too: killed."""
        if not self._cold:
            self._cold = True
            self._deadline = time.monotonic() + COLD_GRACE_S
            self._signal(running, "still busy: cold shutdown")
            return
        for child in running:
            log.warning("worker process %d killed: still running", child.pid)
            child.kill()
            child.wait()

    @staticmethod
    def _signal(children: list[subprocess.Popen[bytes]], why: str) -> None:
        for child in children:
            log.info("worker process %d: %s", child.pid, why)
            child.terminate()

    def _respawn(self) -> None:
        """Start again the children that exited unasked (not in burst mode)."""
        if self._burst or self._stopping:
            return
        for index, child in enumerate(self.children):
            if child.poll() is not None:
                log.warning("worker process %d exited (%s): restarted", child.pid, child.returncode)
                self.children[index] = self._start()
