"""A private dockerd and a private docker-registry that a test may kill and start again.

The shared engine (/var/run/docker.sock) and registry (127.0.0.1:5000) serve other tests and
other people at the same time: they are never stopped. A fault test that needs the engine or
the registry to go away starts its own copy here, with its own folders, socket and port.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, TypeVar

from envspec.build.builders import stop_process
from tests.integration.conftest import unavailable


def _wait_for(what: str, ready: Callable[[], bool], seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    text = log.read_text(errors="replace") if log.exists() else ""
    tail = "\n".join(ln for ln in text.splitlines() if "module=grpc" not in ln)[-3000:]
    raise AssertionError(f"{what} did not come up within {seconds}s:\n{tail}")


def _stop_process(proc: subprocess.Popen[bytes] | None, grace: float) -> None:
    if proc is not None and proc.poll() is None:
        stop_process(proc, grace)


@dataclass
class PrivateDockerd:
    """A dockerd of our own on a bridge of its own, without iptables rules.

    Not `--bridge=none`: a dockerd started that way deletes the host's `docker0` interface
    (moby removes the default bridge when bridging is disabled), which breaks the shared engine
    and every later test that starts a container on its default network.
    """

    root: Path
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    @property
    def socket(self) -> Path:
        return self.root / "docker.sock"

    @property
    def host(self) -> str:
        return f"unix://{self.socket}"

    def argv(self) -> list[str]:
        config = self.root / "daemon.json"
        config.write_text("{}\n")  # not /etc/docker/daemon.json: its `hosts` would clash
        return [
            "dockerd", "--config-file", str(config), "--data-root", str(self.root / "data"),
            "--exec-root", str(self.root / "exec"), "--pidfile", str(self.root / "dockerd.pid"),
            "-H", self.host, f"--bridge={self.bridge}", "--iptables=false",
            "--containerd-namespace", "envspec-faults",
            "--containerd-plugins-namespace", "envspec-faults-plugins",
        ]

    @property
    def bridge(self) -> str:
        """An interface name of our own (at most 15 characters, as Linux allows)."""
        return f"esfault{os.getpid() % 100000}"

    def _make_bridge(self) -> None:
        if Path(f"/sys/class/net/{self.bridge}").exists():
            return
        for command in (["ip", "link", "add", self.bridge, "type", "bridge"],
                        ["ip", "addr", "add", "10.251.77.1/24", "dev", self.bridge],
                        ["ip", "link", "set", self.bridge, "up"]):
            subprocess.run(command, check=True, capture_output=True)

    def _remove_bridge(self) -> None:
        subprocess.run(["ip", "link", "delete", self.bridge], capture_output=True, check=False)

    def answers(self) -> bool:
        done = subprocess.run(["docker", "-H", self.host, "version"], capture_output=True,
                              check=False, timeout=20)
        return done.returncode == 0

    def start(self) -> None:
        self.starts += 1
        self._make_bridge()
        log = self.root / f"dockerd-{self.starts}.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(self.argv(), stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        _wait_for("the private dockerd", self.answers, 60, log)

    def kill(self) -> None:
        """SIGKILL, as when the engine crashes or is stopped hard. Its containerd follows it
        (parent-death signal); wait for that, or the next dockerd finds it half-dead."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        deadline = time.monotonic() + 15
        while (left := self._own_processes("containerd")) and time.monotonic() < deadline:
            for pid in left:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.2)
        # A dead containerd may linger as a zombie until init reaps it; its pid file would then
        # make the next dockerd wait for it: remove the file, as a reboot would.
        (self.root / "exec" / "containerd" / "containerd.pid").unlink(missing_ok=True)

    def _own_processes(self, program: str) -> list[int]:
        """Pids of `program` processes started for this daemon (their command names our root)."""
        pids = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                argv = (entry / "cmdline").read_bytes().split(b"\0")
                if Path(argv[0].decode()).name == program and str(self.root).encode() in b" ".join(argv):
                    pids.append(int(entry.name))
        return pids

    def load(self, image: str) -> None:
        save = subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE)
        loaded = subprocess.run(["docker", "-H", self.host, "load"], stdin=save.stdout,
                                capture_output=True, check=False)
        save.wait()
        assert loaded.returncode == 0 and save.returncode == 0, loaded.stderr

    def close(self) -> None:
        _stop_process(self.proc, grace=30)  # a clean stop also ends its containerd
        for shim in self._own_processes("containerd-shim-runc-v2"):  # a container it left
            with contextlib.suppress(OSError):
                for child in Path(f"/proc/{shim}/task/{shim}/children").read_text().split():
                    os.kill(int(child), signal.SIGKILL)
                os.kill(shim, signal.SIGKILL)
        _unmount_below(self.root)
        shutil.rmtree(self.root, ignore_errors=True)
        self._remove_bridge()


def _unmount_below(root: Path) -> None:
    """Lazily unmount anything a daemon left mounted under `root` (overlay layers, shm)."""
    prefix = str(root.resolve()) + "/"
    mounts = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    for point in sorted((m for m in mounts if m.startswith(prefix)), reverse=True):
        subprocess.run(["umount", "-l", point], capture_output=True, check=False)


def start_private_dockerd(tmp_root: Path) -> PrivateDockerd:
    if shutil.which("dockerd") is None or os.geteuid() != 0:
        unavailable("a private dockerd needs the dockerd binary and root")
    return _started(PrivateDockerd(tmp_root))


class _Daemon(Protocol):
    def start(self) -> None: ...
    def close(self) -> None: ...


D = TypeVar("D", bound=_Daemon)


def _started(daemon: D) -> D:
    """`daemon`, started; cleaned up again when it does not come up."""
    try:
        daemon.start()
    except BaseException:
        daemon.close()
        raise
    return daemon


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class PrivateRegistry:
    """Debian's docker-registry on a free loopback port with its own storage folder."""

    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def answers(self) -> bool:
        try:
            urllib.request.urlopen(f"http://{self.address}/v2/", timeout=2)
        except urllib.error.HTTPError as err:
            return err.code < 500
        except OSError:
            return False
        return True

    def start(self) -> None:
        config = self.root / "registry.yml"
        config.write_text(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n"
            f"    rootdirectory: {self.root / 'storage'}\n"
            f"http:\n  addr: {self.address}\n"
        )
        log = self.root / "registry.log"
        with log.open("wb") as out:
            self.proc = subprocess.Popen(["docker-registry", "serve", str(config)], stdout=out,
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True)
        _wait_for("the private docker-registry", self.answers, 30, log)

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()

    def close(self) -> None:
        _stop_process(self.proc, grace=10)
        shutil.rmtree(self.root, ignore_errors=True)


def start_private_registry(tmp_root: Path) -> PrivateRegistry:
    if shutil.which("docker-registry") is None:
        unavailable("the docker-registry binary is missing (apt-get install docker-registry)")
    return _started(PrivateRegistry(tmp_root))
