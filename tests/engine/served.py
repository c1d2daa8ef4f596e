"""``ondo serve`` as a user runs it: a real process on a free port, with its
embedded redis-server, for the tests of what happens to the whole process
(signals, a killed Redis, memory, logs)."""

from __future__ import annotations

import contextlib
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from engine.runtime.clock import ManualClock
from engine.runtime.embedded import PID_FILE, free_port
from tests.conftest import Engine

ORIGIN = "http://127.0.0.1:8000"  # an allowed origin of the demo site (engine/sites/demo.toml)


class Served:
    def __init__(self, workdir: Path, *args: str, data_dir: Path | None = None) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.data_dir = data_dir or workdir / "data"
        self.log = workdir / f"engine-{self.port}.log"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "engine", "serve", "--port", str(self.port),
                 "--data-dir", str(self.data_dir), *args],
                stdout=log, stderr=subprocess.STDOUT, cwd=workdir)

    def wait_ready(self, timeout: float = 20.0) -> Served:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"ondo serve exited {self.process.returncode}:\n"
                                     f"{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return self
            time.sleep(0.05)
        raise AssertionError(f"ondo serve did not answer:\n{self.output()}")

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    @property
    def engine(self) -> Engine:
        """For tests.engine.client.Visitor (the clock is the engine's own)."""
        return Engine(self.url, self.url.replace("http", "ws"), ManualClock(0), None)

    @property
    def redis_pid(self) -> int:
        return int((self.data_dir / PID_FILE).read_text())

    @property
    def redis_url(self) -> str:
        found = re.search(r"embedded redis-server on (redis://\S+)", self.output())
        assert found, self.output()
        return found.group(1)

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 15.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        return self.process.wait(timeout=timeout)


def gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether the process has exited (and is not a zombie) within the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            return True
        if state == "Z":  # exited; whoever adopted it has not reaped it yet
            return True
        time.sleep(0.05)
    return False
