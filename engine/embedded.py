"""The embedded Redis: with no REDIS_URL, ``ondo serve`` runs a local
``redis-server`` on a free loopback port, persisting with AOF (appendfsync
everysec) under the data directory, and stops it on exit."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path


class EmbeddedRedisError(Exception):
    pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class EmbeddedRedis:
    def __init__(self, data_dir: Path, port: int | None = None, *, persist: bool = True) -> None:
        binary = shutil.which("redis-server")
        if binary is None:
            raise EmbeddedRedisError(
                "no redis-server on PATH: install it (apt-get install redis-server) or give "
                "--redis redis://host:port")
        self.binary = binary
        self.data_dir = data_dir
        self.port = port or free_port()
        self.persist = persist
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> EmbeddedRedis:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        args = [self.binary, "--port", str(self.port), "--bind", "127.0.0.1",
                "--dir", str(self.data_dir.resolve()), "--save", "", "--protected-mode", "yes",
                "--loglevel", "warning"]
        args += (["--appendonly", "yes", "--appendfsync", "everysec"] if self.persist
                 else ["--appendonly", "no"])
        self.process = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                        stderr=subprocess.PIPE)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                err = self.process.stderr.read().decode() if self.process.stderr else ""
                raise EmbeddedRedisError(f"redis-server exited: {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return self
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise EmbeddedRedisError(f"redis-server did not answer on port {self.port}")

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stderr:
            self.process.stderr.close()
