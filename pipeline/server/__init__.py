"""`photoflux serve`: a Fluxtream-compatible photo server on uvicorn, with fault injection.

`run` checks the options, opens the store, binds the socket itself (so `--port 0` works and the
real address is logged as `listening on URL`), and serves the app from `app.py` until SIGINT/TERM.
"""
from __future__ import annotations

import logging
import os
import socket
import sqlite3
import ssl
from pathlib import Path

import uvicorn
from uvicorn.protocols.http.h11_impl import H11Protocol

from ..fluxtream import printable
from .app import Account, Faults, create_app
from .store import Store

log = logging.getLogger("photoflux.server")
#: Accounts as NAME:PASSWORD[,NAME:PASSWORD], so that no password sits on a command line.
USERS_VARIABLE = "FLUXTREAM_SERVER_USERS"


class DroppingH11Protocol(H11Protocol):
    """uvicorn's HTTP/1.1 protocol, plus a way for the app to drop a connection unanswered.

    ASGI has no message for "close without answering", which --drop-rate needs, so each request's
    scope gets `extensions["photoflux.drop"]`: it marks the request cycle disconnected, so
    uvicorn writes nothing more for it, and aborts the transport: the client sees the connection
    close with no status line at all.
    """

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        app = self.app

        async def app_with_drop(scope, receive, send):
            scope.setdefault("extensions", {})["photoflux.drop"] = self.drop
            await app(scope, receive, send)

        self.app = app_with_drop

    def connection_made(self, transport):
        """Answers go out at once: without TCP_NODELAY a keep-alive response's second segment
        waits for the client's delayed ACK, about 40 ms a request on Linux."""
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().connection_made(transport)

    def drop(self):
        self.cycle.disconnected = True
        self.transport.abort()


def parse_users(users, environment: str | None = None) -> dict[str, str]:
    """{name: password} from --user "NAME:PASSWORD" strings and the FLUXTREAM_SERVER_USERS text
    ("NAME:PASSWORD[,NAME:PASSWORD]"); ValueError (never quoting a password) if bad or none."""
    given = [(f"--user #{n}", user) for n, user in enumerate(users, 1)]
    entries = [entry.strip() for entry in (environment or "").split(",")]
    given += [(f"{USERS_VARIABLE} entry #{n}", entry) for n, entry in enumerate(entries, 1)
              if entry]
    accounts = {}
    for which, user in given:
        name, colon, password = user.partition(":")
        if not (name and colon and password):
            raise ValueError(f"{which} must look like NAME:PASSWORD")
        if name in accounts:
            raise ValueError(f"user {printable(name)} is given twice ({which})")
        accounts[name] = password
    if not accounts:
        raise ValueError(f"no account: set {USERS_VARIABLE}=NAME:PASSWORD[,NAME:PASSWORD] "
                         "(or give --user NAME:PASSWORD, which other users can see in the "
                         "process list)")
    return accounts


def listen(host: str, port: int) -> socket.socket:
    try:
        family = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0][0]
        return socket.create_server((host, port), family=family)
    except OSError as exc:
        raise ValueError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None


def run(host: str, port: int, store: Path, users=(), fail_rate: float = 0.0,
        drop_rate: float = 0.0, fail_after_store_rate: float = 0.0, delay_ms: int = 0,
        seed: int | None = None, login_redirect: bool = False, guest_ko: bool = False,
        bare_payload: bool = False, no_dedup_lock: bool = False, certfile=None, keyfile=None,
        max_upload_mb: int = 100):
    """Serve until interrupted. The accounts are `users` ("NAME:PASSWORD") plus those in
    FLUXTREAM_SERVER_USERS. Raises ValueError for bad options (the CLI prints it, exit 2).
    With `no_dedup_lock`, an upload's dedup lookup and its insert are `delay_ms` apart."""
    passwords = parse_users(users, os.environ.get(USERS_VARIABLE))
    if bool(certfile) != bool(keyfile):
        raise ValueError("--certfile and --keyfile go together")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    try:
        photo_store = Store(store, dedup_lock=not no_dedup_lock, race_seconds=delay_ms / 1000)
        ids = photo_store.guest_ids(passwords)
    except (OSError, sqlite3.Error) as exc:
        raise ValueError(f"cannot open the store {store}: {exc}") from None
    accounts = {name: Account(name, password, ids[name]) for name, password in passwords.items()}
    faults = Faults(fail_rate, drop_rate, fail_after_store_rate, seed, login_redirect, guest_ko,
                    bare_payload)
    app = create_app(photo_store, accounts, faults, delay_ms, max_upload_mb)
    config = uvicorn.Config(app, http=DroppingH11Protocol, ws="none", lifespan="off",
                            log_config=None, access_log=False, ssl_certfile=certfile,
                            ssl_keyfile=keyfile, timeout_graceful_shutdown=3)
    try:
        config.load()
    except (ssl.SSLError, OSError) as exc:
        raise ValueError(f"cannot use --certfile/--keyfile: {exc}") from None
    sock = listen(host, port)
    bound_host, bound_port = sock.getsockname()[:2]
    url_host = f"[{bound_host}]" if ":" in bound_host else bound_host
    log.info("listening on %s://%s:%d/ (store %s, users %s)", "https" if certfile else "http",
             url_host, bound_port, Path(store).absolute(), printable(", ".join(accounts)))
    try:
        uvicorn.Server(config).run(sockets=[sock])
    finally:
        photo_store.close()
