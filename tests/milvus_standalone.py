"""A standalone Milvus server (PyPI ``milvus==2.3.5``, see .ci/milvus-server.sh) run on 127.0.0.1 for tests and
benchmarks: every component's address pinned to 127.0.0.1, started and stopped by its user."""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COMPONENTS = ("rootCoord", "proxy", "queryCoord", "queryNode", "indexNode", "dataCoord", "dataNode", "indexCoord")


def launcher() -> Path | None:
    """The server's launcher: $ASKBOT_MILVUS_SERVER, else the venv .ci/milvus-server.sh makes."""
    found = os.environ.get("ASKBOT_MILVUS_SERVER") or str(ROOT / ".venv-milvus-server" / "bin" / "milvus-server")
    path = Path(found)
    return path if path.is_file() and os.access(path, os.X_OK) else None


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Standalone:
    """``milvus-server --data DIR`` on a free gRPC port of 127.0.0.1."""

    def __init__(self, data: Path, program: Path) -> None:
        self.data, self.program = data, program
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"milvus://127.0.0.1:{self.port}"

    def start(self, timeout_s: float = 180.0) -> float:
        """Start and wait until it answers; returns the seconds it took."""
        started = time.monotonic()
        if not self._port_free():  # after a stop it may sit in TIME_WAIT for a minute: take another (see uri)
            self.port = free_port()
        extra = [arg for c in COMPONENTS for arg in ("--extra-config", f"{c}.ip=127.0.0.1")]
        stale = self._config_mtime()  # the config the last start wrote (its port may be another)
        self.data.mkdir(parents=True, exist_ok=True)
        log = (self.data / "server.out").open("ab")
        self.proc = subprocess.Popen(
            [str(self.program), "--data", str(self.data), "--proxy-port", str(self.port), *extra],
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: stop() ends the launcher and the server with it
        )
        while not self._answers():
            gave_up = b"already stopped" in (self.data / "server.out").read_bytes()  # the launcher waits on, idle
            moved = self._configured_port() if self._config_mtime() != stale else None
            if moved is not None and moved != self.port:
                self.stop()
                raise RuntimeError(f"the launcher put the gRPC port on {moved}, not {self.port} (was it busy?)")
            if gave_up or self.proc.poll() is not None or time.monotonic() - started > timeout_s:
                self.stop()
                tail = (self.data / "server.out").read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the Milvus server did not start within {timeout_s:.0f} s:\n{tail}")
            time.sleep(0.5)
        return time.monotonic() - started

    def _port_free(self) -> bool:
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", self.port))
            except OSError:
                return False
        return True

    def _config_mtime(self) -> float | None:
        try:
            return (self.data / "configs" / "milvus.yaml").stat().st_mtime
        except OSError:
            return None

    def _configured_port(self) -> int | None:
        """The proxy (gRPC) port the launcher wrote into the server's config, once written."""
        try:
            lines = (self.data / "configs" / "milvus.yaml").read_text().splitlines()
        except OSError:
            return None
        section = ""
        for line in lines:
            if line and not line[0].isspace():
                section = line.split(":", 1)[0]
            elif section == "proxy" and line.startswith("  port:"):
                return int(line.split(":", 1)[1].split("#", 1)[0])
        return None

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=1):
                pass
        except OSError:
            return False
        return self.healthz() == "OK"

    def metrics_port(self) -> int | None:
        """The port of /healthz (9091, or the next free one the launcher chose), read from the server's env."""
        if self.proc is None:
            return None
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
                if int(fields[1]) == self.proc.pid:
                    env = (stat.parent / "environ").read_bytes().split(b"\0")
                    for item in env:
                        if item.startswith(b"METRICS_PORT="):
                            return int(item.split(b"=", 1)[1])
            except (OSError, IndexError, ValueError):
                continue
        return None

    def healthz(self) -> str:
        port = self.metrics_port()
        if port is None:
            return ""
        try:
            direct = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # 127.0.0.1 only, never a proxy
            with direct.open(f"http://127.0.0.1:{port}/healthz", timeout=2) as reply:
                return reply.read().decode().strip()
        except OSError:
            return ""

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        os.killpg(self.proc.pid, signal.SIGINT)  # the launcher stops the server it started
        try:
            self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, signal.SIGKILL)  # anything of its group left behind

    def wipe(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
