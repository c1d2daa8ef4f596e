"""The embedded Redis: with no Redis URL, ``ondo serve`` runs a local
``redis-server`` on a free loopback port, persisting with AOF (appendfsync
everysec) under the data directory.

It lives and dies with the engine:

- one engine per data directory: ``start`` takes an exclusive lock on
  ``DATA_DIR/engine.lock`` (released by the kernel however the engine ends), so
  a second engine on the same directory is refused, never a second server on
  one AOF;
- a ``redis-server`` left over from an engine that died before it could stop
  it (its pid is in ``DATA_DIR/redis-server.pid``) is stopped before ours
  starts: it is taken over cleanly, its AOF flushed by its own shutdown;
- on Linux the server gets SIGTERM when the engine dies, whatever kills the
  engine (SIGKILL included): a parent-death signal set in the child;
- ``supervise()`` restarts the server when it dies, on the same port and data
  directory, with bounded backoff. Meanwhile the engine answers
  ``unavailable`` and /healthz says degraded; both recover by themselves, since
  the store reconnects.

Its memory is bounded: ``maxmemory`` (``[server] redis_maxmemory_mb``; by
default a quarter of the machine's memory, or of the container's limit) with
the policy ``volatile-lru``: at the limit Redis evicts the least recently used
keys that have a time to live (anonymous and member profiles, event ids,
statistics, the recording) and never those without one (rule versions, the
active pointer, product feeds). docs/storage.md, "When Redis memory is short".
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import logging
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import IO

log = logging.getLogger("ondo.embedded")

LOCK_FILE = "engine.lock"
PID_FILE = "redis-server.pid"
POLICY = "volatile-lru"  # maxmemory-policy: docs/storage.md says why
_PR_SET_PDEATHSIG = 1
# Where a container's memory limit is read (cgroup v2, then v1).
CGROUP_LIMITS = (Path("/sys/fs/cgroup/memory.max"),
                 Path("/sys/fs/cgroup/memory/memory.limit_in_bytes"))


class EmbeddedRedisError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def machine_memory() -> int:
    """Bytes of memory the engine's machine has: its physical memory, or its
    container's limit when that is lower."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (ValueError, OSError):  # no such names: read /proc/meminfo
        total = 0
        with contextlib.suppress(OSError, ValueError):
            for line in Path("/proc/meminfo").read_text().splitlines():
                if line.startswith("MemTotal:"):
                    total = int(line.split()[1]) * 1024
    for path in CGROUP_LIMITS:
        with contextlib.suppress(OSError):
            limit = path.read_text().strip()
            if limit.isdigit() and (not total or int(limit) < total):  # or "max": none
                total = int(limit)
    return total


def default_maxmemory() -> int:
    """A quarter of the machine's memory: the engine, its workers and the
    operating system's cache keep the rest (0, no limit, if unknown)."""
    return machine_memory() // 4


def answers_ping(port: int) -> bool:
    """Whether a Redis server on this loopback port answers PING."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.2) as sock:
            sock.sendall(b"PING\r\n")
            return sock.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def dies_with_parent() -> Callable[[], None] | None:
    """A pre-exec hook asking the kernel to SIGTERM the child when the thread
    that started it ends (the engine's main thread, or the supervisor's, which
    lives as long as the server does). Linux only; elsewhere ``stop`` and the
    pid file's takeover are what clean up."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None, use_errno=True).prctl  # looked up before fork, not in the child
    parent = os.getpid()

    def hook() -> None:
        prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
        if os.getppid() != parent:  # the engine died between fork and prctl
            os._exit(1)

    return hook


def _is_redis_server(pid: int) -> bool:
    try:
        cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[0]
    except OSError:
        return False
    return os.path.basename(cmdline.split(b" ")[0]) == b"redis-server"


def _running(pid: int) -> bool:
    """Whether the process exists and has not exited (a zombie has: it only
    waits for whoever adopted it to reap it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def _wait_gone(pid: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return True
        time.sleep(0.05)
    return False


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int | None = None, *, persist: bool = True,
                 maxmemory: int = 0) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedRedisError(
                "no redis-server on PATH: install it (apt-get install redis-server) or give "
                "--redis redis://host:port")
        self.binary = binary
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self.maxmemory = maxmemory or default_maxmemory()  # bytes
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.last_recovery: float | None = None  # seconds from exit to answering again
        self._lock_file: IO[str] | None = None
        self._guard = threading.Lock()  # start, restart and stop, one at a time
        self._stopping = threading.Event()
        self._watcher: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    # -- start and stop

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock()
        try:
            self._take_over()
            with self._guard:
                self._stopping.clear()
                self._spawn(timeout)
        except BaseException:
            self._unlock()
            raise
        return self

    def supervise(self, backoff: float = 0.1, max_backoff: float = 5.0) -> None:
        """Restart the server whenever it exits without ``stop``."""
        if self._watcher is None or not self._watcher.is_alive():
            self._watcher = threading.Thread(target=self._watch, args=(backoff, max_backoff),
                                             name="embedded-redis", daemon=True)
            self._watcher.start()

    def stop(self) -> None:
        self._stopping.set()
        with self._guard:
            self._terminate()
        if self._watcher is not None and self._watcher is not threading.current_thread():
            self._watcher.join(timeout=5)
        self._watcher = None
        with contextlib.suppress(OSError):
            (self.data_dir / PID_FILE).unlink()
        self._unlock()

    # -- the one engine per data directory

    def _lock(self) -> None:
        path = self.data_dir / LOCK_FILE
        handle = path.open("a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            handle.close()
            raise EmbeddedRedisError(
                f"the data directory {self.data_dir}/ is in use by another engine (pid "
                f"{holder}): stop it first, or give this one its own --data-dir") from None
        handle.seek(0)
        handle.truncate()
        handle.write(str(os.getpid()))
        handle.flush()
        self._lock_file = handle

    def _unlock(self) -> None:
        if self._lock_file is not None:
            with contextlib.suppress(OSError):
                self._lock_file.truncate(0)
            self._lock_file.close()  # closing releases the lock
            self._lock_file = None

    def _take_over(self) -> None:
        """Stop a redis-server left on this directory by an engine that died."""
        path = self.data_dir / PID_FILE
        try:
            pid = int(path.read_text().strip())
        except (OSError, ValueError):
            return
        if pid > 0 and _is_redis_server(pid):
            log.warning("stopping redis-server %d left on %s by an earlier engine", pid,
                        self.data_dir)
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)
            if not _wait_gone(pid, 10.0):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                if not _wait_gone(pid, 5.0):
                    raise EmbeddedRedisError(f"redis-server {pid} on {self.data_dir}/ would not "
                                             "stop")
        with contextlib.suppress(OSError):
            path.unlink()

    # -- the server process

    def _spawn(self, timeout: float) -> None:
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir.resolve()), "--save", "", "--protected-mode", "yes",
                "--loglevel", "warning", "--maxmemory", str(self.maxmemory),
                "--maxmemory-policy", POLICY]
        args += (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist
                 else ["--appendonly", "no"])
        # Its own process group: a Ctrl-C in the terminal reaches the engine,
        # which stops the server after its own shutdown, not both at once.
        process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   preexec_fn=dies_with_parent(), process_group=0)
        self.process = process
        (self.data_dir / PID_FILE).write_text(str(process.pid))
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if process.poll() is not None:
                err = process.stderr.read().decode() if process.stderr else ""
                self._terminate()
                raise EmbeddedRedisError(f"redis-server exited: {err.strip()}")
            if answers_ping(self.port):
                return
            time.sleep(0.05)
        self._terminate()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port}")

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if process.stderr:
            process.stderr.close()

    def _watch(self, backoff: float, max_backoff: float) -> None:
        delay = backoff
        while not self._stopping.is_set():
            process = self.process
            if process is None or process.poll() is None:
                if process is not None:
                    with contextlib.suppress(subprocess.TimeoutExpired):
                        process.wait(timeout=0.5)
                else:
                    self._stopping.wait(0.5)
                continue
            down_at = time.monotonic()
            log.warning("embedded redis-server exited (status %s); restarting it on port %d",
                        process.returncode, self.port)
            while not self._stopping.wait(delay):
                with self._guard:
                    if self._stopping.is_set():
                        return
                    self._terminate()
                    try:
                        self._spawn(timeout=10.0)
                    except EmbeddedRedisError as exc:
                        log.warning("restarting redis-server failed (%s); again in %.1fs",
                                    exc, min(delay * 2, max_backoff))
                        delay = min(delay * 2, max_backoff)
                        continue
                self.restarts += 1
                self.last_recovery = time.monotonic() - down_at
                log.warning("embedded redis-server is back after %.2fs", self.last_recovery)
                delay = backoff
                break
