"""A Redis Cluster on this machine, for the test suite and the load harness:
``masters`` masters with ``replicas`` replicas each, every node a
``redis-server`` on a free loopback port, joined by ``redis-cli --cluster
create``. Nothing persists: each node's directory is a temporary one. It
asks the nodes how they are through ``redis-cli`` (the runtime layer talks
to no Redis library: only the store does).

A short ``node_timeout`` (the cluster's failure detection) makes a failover
take about a second instead of Redis's default fifteen, so that the tests of
a killed master end quickly.
"""

from __future__ import annotations

import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

from engine.runtime.embedded import (
    EmbeddedRedisError,
    answers_ping,
    dies_with_parent,
    free_port,
)


class LocalCluster:
    def __init__(self, data_dir: Path | None = None, *, masters: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 1000) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise EmbeddedRedisError("a local cluster needs redis-server and redis-cli on PATH "
                                     "(apt-get install redis-server)")
        self.server, self.cli_path = server, cli
        self._own_dir = data_dir is None
        self.data_dir = data_dir or Path(tempfile.mkdtemp(prefix="ondo-cluster-"))
        self.masters, self.replicas, self.node_timeout_ms = masters, replicas, node_timeout_ms
        self.processes: dict[int, subprocess.Popen[bytes]] = {}  # port -> its server
        self.bus_ports: dict[int, int] = {}  # port -> its cluster bus port

    @property
    def ports(self) -> list[int]:
        return list(self.processes)

    @property
    def url(self) -> str:
        """Every node is a seed: the engine needs one that answers."""
        return "redis+cluster://" + ",".join(f"127.0.0.1:{port}" for port in self.ports)

    def start(self, timeout: float = 30.0) -> LocalCluster:
        try:
            for _ in range(self.masters * (1 + self.replicas)):
                self.spawn(free_port())
            subprocess.run(
                [self.cli_path, "--cluster", "create",
                 *(f"127.0.0.1:{port}" for port in self.ports),
                 "--cluster-replicas", str(self.replicas), "--cluster-yes"],
                check=True, capture_output=True, timeout=timeout)
            self.wait_ok(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def spawn(self, port: int) -> None:
        """Start (or restart, on its old directory and port) one node."""
        node_dir = self.data_dir / str(port)
        node_dir.mkdir(parents=True, exist_ok=True)
        # The bus port, by default port + 10000, may be taken or past 65535.
        bus = self.bus_ports.setdefault(port, free_port())
        process = subprocess.Popen(
            [self.server, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(node_dir),
             "--cluster-enabled", "yes", "--cluster-port", str(bus),
             "--cluster-config-file", "nodes.conf",
             "--cluster-node-timeout", str(self.node_timeout_ms), "--appendonly", "no",
             "--save", "", "--loglevel", "warning"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=dies_with_parent(), process_group=0)
        self.processes[port] = process
        deadline = time.monotonic() + 10
        while not answers_ping(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedRedisError(f"cluster node on port {port} did not start")
            time.sleep(0.05)

    def cli(self, port: int, *args: object) -> str:
        """One command through redis-cli; its reply as text."""
        try:
            done = subprocess.run([self.cli_path, "-p", str(port), *map(str, args)],
                                  capture_output=True, text=True, timeout=10)
        except subprocess.TimeoutExpired as exc:
            raise EmbeddedRedisError(f"redis-cli on port {port} timed out") from exc
        reply = done.stdout.strip()
        if done.returncode != 0 or reply.startswith(("ERR", "Could not connect")):
            raise EmbeddedRedisError(f"redis-cli -p {port} {' '.join(map(str, args))}: "
                                     f"{reply or done.stderr.strip()}")
        return reply

    def fields(self, port: int, *args: object) -> dict[str, str]:
        """An INFO-like reply (``name:value`` lines) as a dict."""
        return dict(line.split(":", 1) for line in self.cli(port, *args).split()
                    if ":" in line)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node says the cluster is ok and knows every other,
        and every replica is in sync with its master."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                if all(self._ok(port) for port in self.live_ports()):
                    return
            except EmbeddedRedisError:
                pass
            if time.monotonic() > deadline:
                raise EmbeddedRedisError("the local cluster did not become ok")
            time.sleep(0.1)

    def _ok(self, port: int) -> bool:
        info = self.fields(port, "CLUSTER", "INFO")
        replication = self.fields(port, "INFO", "replication")
        return (info.get("cluster_state") == "ok" and
                int(info.get("cluster_known_nodes", 0)) == len(self.processes) and
                (replication.get("role") != "slave" or
                 replication.get("master_link_status") == "up"))

    def live_ports(self) -> list[int]:
        return [port for port, p in self.processes.items() if p.poll() is None]

    def masters_now(self) -> list[int]:
        """The ports of the live nodes that are masters now."""
        return [port for port in self.live_ports()
                if self.fields(port, "INFO", "replication").get("role") == "master"]

    def master_of(self, key: str) -> int:
        """The port of the master owning ``key``'s slot now (CLUSTER NODES:
        ``id host:port@bus flags master ping pong epoch link slot-ranges…``)."""
        asked = self.live_ports()[0]
        slot = int(self.cli(asked, "CLUSTER", "KEYSLOT", key))
        for line in self.cli(asked, "CLUSTER", "NODES").splitlines():
            parts = line.split()
            if "master" not in parts[2].split(",") or "fail" in parts[2].split(","):
                continue
            for served in parts[8:]:
                if served.startswith("["):  # a slot being migrated or imported
                    continue
                first, _, last = served.partition("-")
                if int(first) <= slot <= int(last or first):
                    return int(parts[1].split("@")[0].rsplit(":", 1)[1])
        raise EmbeddedRedisError(f"no master owns the slot of {key!r}")

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def flush(self) -> None:
        for port in self.masters_now():
            self.cli(port, "FLUSHALL")

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._own_dir:
            shutil.rmtree(self.data_dir, ignore_errors=True)
