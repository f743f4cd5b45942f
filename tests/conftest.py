"""Shared fixtures: `serve_factory` starts the REAL `photoflux serve` process for a test.

    def test_upload(serve_factory):
        server = serve_factory()                         # fresh store, user alice, free port
        requests.get(server.url + "api/guest", auth=server.auth, verify=server.verify)
        flaky = serve_factory(fail_rate=0.3, seed=1)     # any `photoflux serve` option, as kwargs
        secure = serve_factory(https=True)               # self-signed cert; verify=server.verify
        server.stop()
        again = serve_factory(store=server.store, port=server.port)  # a restart, same URL

Each call runs `.venv/bin/photoflux serve --port 0 ...` on 127.0.0.1 (the accounts in its
FLUXTREAM_SERVER_USERS, never on its command line), waits until it answers `/api/guest`, and
returns a `RunningServer`: `url` (ends with "/"), `user`, `password`, `auth`, `store`, `verify`
(the cert file for https, else True), `process`, `log` (its stdout+stderr file), `log_text()` and
`wait_for_log(text)` (polls until the log holds `text`: a line is written just after its answer).
Every server still running is stopped at teardown. `module_serve_factory` is the same, shared by
a test module (servers live until the module ends).

`small_disk` is a 4 MB tmpfs (skipped where it cannot be mounted); `fill(disk)` takes its every
free byte with one file, deleted to free them again.
"""
from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

PHOTOFLUX = Path(sys.executable).with_name("photoflux")
START_TIMEOUT = 20
LOG_TIMEOUT = 10


@dataclass
class RunningServer:
    url: str
    user: str
    password: str
    store: Path
    verify: str | bool
    process: subprocess.Popen
    log: Path

    @property
    def auth(self) -> tuple[str, str]:
        return self.user, self.password

    @property
    def port(self) -> int:
        return int(self.url.rstrip("/").rsplit(":", 1)[1])

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for_log(self, text: str) -> str:
        """The log once it holds `text` (polled); fails the test if it never comes."""
        deadline = time.monotonic() + LOG_TIMEOUT
        while text not in (log := self.log_text()):
            if time.monotonic() > deadline:
                pytest.fail(f"the server log never showed {text!r}:\n{log}")
            time.sleep(0.02)
        return log

    def stop(self):
        """SIGTERM, then SIGKILL if it has not exited within 5 s."""
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


class ServerFactory:
    """Starts `photoflux serve` processes under one temporary folder; `close()` stops them."""

    def __init__(self, tmp_path_factory):
        self.root = tmp_path_factory.mktemp("servers")
        self.servers: list[RunningServer] = []
        self._cert = None

    def __call__(self, *, store: Path | None = None, users=None, https: bool = False,
                 port: int = 0, **options) -> RunningServer:
        """Start a server. `users`: [(name, password)], default alice with a random password;
        `port`: 0 for a free one; `options`: the other `serve` options by their Python names
        (fail_rate=0.5, delay_ms=20; a switch as True: login_redirect=True)."""
        n = len(self.servers)
        store = Path(store or self.root / f"store{n}")
        users = users or [("alice", secrets.token_urlsafe(12))]
        args = [str(PHOTOFLUX), "serve", "--host", "127.0.0.1", "--port", str(port),
                "--store", str(store)]
        accounts = ",".join(f"{name}:{password}" for name, password in users)
        if https:
            args += ["--certfile", str(self.cert[0]), "--keyfile", str(self.cert[1])]
        for name, value in options.items():
            flag = f"--{name.replace('_', '-')}"
            if value is True:  # a switch: no_dedup_lock=True
                args.append(flag)
            elif value is not None and value is not False:
                args += [flag, str(value)]
        log = self.root / f"server{n}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT,
                                       env={**os.environ, "FLUXTREAM_SERVER_USERS": accounts})
        server = RunningServer(self._wait_for_url(process, log), *users[0], store,
                               str(self.cert[0]) if https else True, process, log)
        self.servers.append(server)
        self._wait_until_answering(server)
        return server

    @property
    def cert(self) -> tuple[Path, Path]:
        """A self-signed certificate for 127.0.0.1 (made once per factory with openssl)."""
        if self._cert is None:
            cert, key = self.root / "cert.pem", self.root / "key.pem"
            subprocess.run(
                ["openssl", "req", "-x509", "-nodes", "-days", "2",
                 "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
                 "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                 "-keyout", str(key), "-out", str(cert)],
                check=True, capture_output=True)
            self._cert = cert, key
        return self._cert

    @staticmethod
    def _wait_for_url(process: subprocess.Popen, log: Path) -> str:
        """The URL from the server's `listening on URL` line (it binds port 0 itself)."""
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            found = re.search(r"listening on (\S+)", log.read_text(errors="replace"))
            if found:
                return found.group(1)
            if process.poll() is not None:
                break
            time.sleep(0.05)
        process.kill()
        raise RuntimeError(f"photoflux serve did not start:\n{log.read_text(errors='replace')}")

    @staticmethod
    def _wait_until_answering(server: RunningServer):
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                requests.get(server.url + "api/guest", auth=server.auth, verify=server.verify,
                             timeout=2, allow_redirects=False).raise_for_status()
                return
            except requests.RequestException:
                if time.monotonic() > deadline or server.process.poll() is not None:
                    server.stop()
                    raise RuntimeError(f"photoflux serve does not answer:\n{server.log_text()}")
                time.sleep(0.05)

    def close(self):
        for server in self.servers:
            server.stop()


@pytest.fixture
def serve_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture(scope="module")
def module_serve_factory(tmp_path_factory):
    factory = ServerFactory(tmp_path_factory)
    yield factory
    factory.close()


@pytest.fixture
def small_disk(tmp_path):
    """A 4 MB tmpfs (root only; skipped where mounting is not allowed)."""
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    yield disk
    subprocess.run(["umount", "-l", str(disk)], check=True)


def fill(disk: Path) -> Path:
    """Take every free byte of `disk` with one file; delete it to free them again."""
    filler = disk / "filler"
    with open(filler, "wb", buffering=0) as out:
        try:
            while True:
                out.write(b"\0" * 4096)
        except OSError:
            pass
    return filler
