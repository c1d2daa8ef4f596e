"""A Redis Cluster on this machine, for the test suite and the load harness:
``masters`` masters with ``replicas`` replicas each, every node a
``redis-server`` on a free loopback port, joined by ``redis-cli --cluster
create``. Nothing persists: each node's directory is a temporary one.

A short ``node_timeout`` (the cluster's failure detection) makes a failover
take about a second instead of Redis's default fifteen, so that the tests of
a killed master end quickly.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import redis

from engine.runtime.embedded import EmbeddedRedisError, dies_with_parent, free_port


class LocalCluster:
    def __init__(self, data_dir: Path | None = None, *, masters: int = 3, replicas: int = 1,
                 node_timeout_ms: int = 1000) -> None:
        server, cli = shutil.which("redis-server"), shutil.which("redis-cli")
        if server is None or cli is None:
            raise EmbeddedRedisError("a local cluster needs redis-server and redis-cli on PATH "
                                     "(apt-get install redis-server)")
        self.server, self.cli = server, cli
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
                [self.cli, "--cluster", "create",
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
        while not self._answers(port):
            if process.poll() is not None or time.monotonic() > deadline:
                raise EmbeddedRedisError(f"cluster node on port {port} did not start")
            time.sleep(0.05)

    def client(self, port: int) -> redis.Redis:
        return redis.Redis(port=port, socket_timeout=2.0)

    def info(self, port: int) -> dict[str, str]:
        with self.client(port) as client:
            raw = client.execute_command("CLUSTER", "INFO")
        text = raw.decode() if isinstance(raw, bytes) else str(raw)
        return dict(line.split(":", 1) for line in text.split() if ":" in line)

    def wait_ok(self, timeout: float = 30.0) -> None:
        """Until every live node says the cluster is ok and knows every other."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                infos = [self.info(port) for port in self.live_ports()]
                if all(i.get("cluster_state") == "ok" and
                       int(i.get("cluster_known_nodes", 0)) == len(self.processes)
                       for i in infos) and self._replicas_synced():
                    return
            except redis.RedisError:
                pass
            if time.monotonic() > deadline:
                raise EmbeddedRedisError("the local cluster did not become ok")
            time.sleep(0.1)

    def _replicas_synced(self) -> bool:
        for port in self.live_ports():
            with self.client(port) as client:
                info = client.info("replication")
            if info.get("role") == "slave" and info.get("master_link_status") != "up":
                return False
        return True

    def live_ports(self) -> list[int]:
        return [port for port, p in self.processes.items() if p.poll() is None]

    def masters_now(self) -> list[int]:
        """The ports of the live nodes that are masters now."""
        out = []
        for port in self.live_ports():
            with self.client(port) as client:
                if client.info("replication").get("role") == "master":
                    out.append(port)
        return out

    def master_of(self, key: str) -> int:
        """The port of the master owning ``key``'s slot now."""
        with self.client(self.live_ports()[0]) as client:
            slot = int(client.execute_command("CLUSTER", "KEYSLOT", key))
            for start, end, master, *_ in client.execute_command("CLUSTER", "SLOTS"):
                if int(start) <= slot <= int(end):
                    return int(master[1])
        raise EmbeddedRedisError(f"no master owns the slot of {key!r}")

    def kill(self, port: int) -> None:
        """SIGKILL one node, as a crash would."""
        process = self.processes[port]
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)

    def flush(self) -> None:
        for port in self.masters_now():
            with self.client(port) as client:
                client.flushall()

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

    @staticmethod
    def _answers(port: int) -> bool:
        with contextlib.suppress(redis.RedisError), redis.Redis(port=port,
                                                                 socket_timeout=0.2) as client:
            return bool(client.ping())
        return False
