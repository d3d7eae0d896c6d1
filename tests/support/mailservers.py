"""A private Dovecot IMAP server on loopback for the email connector's tests and benchmark,
and the ``[[channels.email]]`` table pointing the product at it.

``Dovecot`` runs a private Dovecot IMAP server (Debian's ``dovecot-imapd``, installed by
``scripts/services``) from a temp folder, next to and independent of any system instance;
mail is stored as maildir owned by the ``vmail`` user. The SMTP server beside it is in
``smtp_server``.

The pytest fixture ``dovecot`` (one server for the whole session) is at the bottom;
``pytest_plugins`` in conftest.py makes it visible.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, Self

import pytest

from tests.support.loopback import LOOPBACK, LoopbackServer, free_port
from tests.support.smtp_server import SmtpServer

MAIL_USER = "vmail"
SETUP_HINT = "run `bash scripts/services` (as root) to install Dovecot and add the vmail user"


def _binary(name: str) -> str:
    """The path of a Dovecot binary, also when /usr/sbin is not on PATH."""
    found = shutil.which(name) or next(
        (p for p in (f"/usr/sbin/{name}", f"/usr/bin/{name}") if os.access(p, os.X_OK)), None
    )
    if found is None:
        raise RuntimeError(f"{name} is not installed: {SETUP_HINT}")
    return found


def _read_greeting(port: int) -> bytes:
    """Connects and returns the server's first line, or b'' when it is not up yet."""
    try:
        with socket.create_connection((LOOPBACK, port), timeout=2.0) as sock:
            line = b""
            while not line.endswith(b"\r\n"):
                chunk = sock.recv(1024)
                if not chunk:
                    break
                line += chunk
            return line
    except OSError:
        return b""


class Dovecot(LoopbackServer):
    """A private Dovecot IMAP server on 127.0.0.1, run as root with mail owned by ``vmail``.

    Everything (config, base_dir, state, log, passwd-file, maildirs) lives under ``root``,
    a fresh temp folder by default (removed again by ``stop``). Users log in with IMAP LOGIN
    (plain text, no TLS). Messages come back over IMAP with CRLF line endings.
    """

    def __init__(self, root: Path | None = None, users: Mapping[str, str] | None = None) -> None:
        if os.geteuid() != 0:
            raise RuntimeError("the test Dovecot runs as root (it switches to vmail for mail)")
        try:
            self._vmail = pwd.getpwnam(MAIL_USER)
        except KeyError:
            raise RuntimeError(f"no user {MAIL_USER}: {SETUP_HINT}") from None
        self._dovecot_bin = _binary("dovecot")
        self._doveadm_bin = _binary("doveadm")
        self._owns_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="inbox-dovecot-")) if root is None else root
        self.root.mkdir(parents=True, exist_ok=True)
        self.root.chmod(0o755)
        self._check_reachable(self.root)
        self.conf = self.root / "dovecot.conf"
        self.passwd = self.root / "passwd.d"
        self.home = self.root / "home"
        self.home.mkdir(exist_ok=True)
        os.chown(self.home, self._vmail.pw_uid, self._vmail.pw_gid)
        self.home.chmod(0o700)
        self._imports = itertools.count()
        self._process: subprocess.Popen[bytes] | None = None
        self._port = 0
        self.passwd.mkdir(exist_ok=True)
        for user, password in (users or {}).items():
            self.add_user(user, password)

    @staticmethod
    def _check_reachable(path: Path) -> None:
        """The vmail user must be able to walk down to ``path``."""
        for parent in [path, *path.parents]:
            if not parent.stat().st_mode & 0o001:
                raise RuntimeError(f"{parent} is not searchable by {MAIL_USER}; use another root")

    # -- life cycle --------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if not self._port:
            raise RuntimeError("Dovecot is not started")
        return self._port

    @property
    def log_path(self) -> Path:
        return self.root / "dovecot.log"

    def log_text(self) -> str:
        """Dovecot's log (and what the master printed), for diagnostics."""
        parts = [p.read_text(errors="replace") for p in (self.log_path, self.root / "master.out")]
        return "".join(p for p in parts if p)

    def _write_config(self, port: int) -> None:
        root = self.root
        self.conf.write_text(
            f"""# A private test instance; nothing here touches the system Dovecot.
instance_name = inbox-test-{port}
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
protocols = imap
listen = {LOOPBACK}
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
auth_failure_delay = 0 secs
first_valid_uid = {self._vmail.pw_uid}
first_valid_gid = {self._vmail.pw_gid}
mail_location = maildir:~/Maildir
mail_fsync = never
mailbox_idle_check_interval = 1 secs
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd}/%u
}}
userdb {{
  driver = static
  args = uid={MAIL_USER} gid={MAIL_USER} home={self.home}/%u
}}
# No growing delays after failed logins from 127.0.0.1 (tests log in wrongly on purpose).
service anvil {{
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
  inet_listener imap {{
    address = {LOOPBACK}
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
"""
        )

    def start(self, timeout: float = 15.0) -> Self:
        """Starts the server and returns once it answers with an IMAP greeting."""
        if self._process is not None:
            return self
        for _attempt in range(3):  # another process may take the free port in between
            port = free_port()
            self._write_config(port)
            with (self.root / "master.out").open("wb") as out:
                process = subprocess.Popen(
                    [self._dovecot_bin, "-c", str(self.conf), "-F"],
                    stdin=subprocess.DEVNULL,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                )
            deadline = time.monotonic() + timeout
            while process.poll() is None and time.monotonic() < deadline:
                greeting = _read_greeting(port)
                if greeting.startswith(b"* OK"):
                    self._process, self._port = process, port
                    return self
                time.sleep(0.02)
            if process.poll() is None:
                process.kill()
            process.wait()
            if "Address already in use" not in self.log_text():
                break
        raise RuntimeError(f"Dovecot did not start:\n{self.log_text()}")

    def _pids(self) -> list[int]:
        """The master's pid and those of all its descendants (login and imap processes)."""
        if self._process is None:
            return []
        children: dict[int, list[int]] = {}
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            parent = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(parent, []).append(int(entry.name))
        found, todo = [], [self._process.pid]
        while todo:
            pid = todo.pop()
            found.append(pid)
            todo += children.get(pid, [])
        return found

    def _signal(self, sig: signal.Signals, only: str = "") -> int:
        sent = 0
        for pid in self._pids():
            with contextlib.suppress(OSError):
                if only and Path(f"/proc/{pid}/comm").read_text().strip() != only:
                    continue
                os.kill(pid, sig)
                sent += 1
        return sent

    def freeze(self) -> None:
        """Stops every Dovecot process (SIGSTOP): connections stay open, nothing answers."""
        self._signal(signal.SIGSTOP)

    def thaw(self) -> None:
        """Lets frozen processes run again (SIGCONT)."""
        self._signal(signal.SIGCONT)

    def kill_sessions(self) -> int:
        """Kills the ``imap`` processes serving logged-in clients; returns how many."""
        return self._signal(signal.SIGKILL, only="imap")

    def stop(self) -> None:
        """Stops the server (and removes the temp folder it made itself)."""
        self.thaw()
        process, self._process = self._process, None
        if process is not None:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
        if self._owns_root:
            shutil.rmtree(self.root, ignore_errors=True)

    # -- users and mail ----------------------------------------------------------------------

    def add_user(self, user: str, password: str) -> None:
        """Adds (or re-passwords) a user who can then log in with IMAP LOGIN.

        One passwd-file per user: Dovecot checks a passwd-file for changes at most once a
        second (by mtime and size), so one shared file would hide users added within a second
        of the last login. Changing the password of an existing user waits out that second.
        """
        if not re.fullmatch(r"[A-Za-z0-9_+@-][A-Za-z0-9_.+@-]*", user):
            raise ValueError(f"unsupported user name {user!r}")
        if not password or any(c in password for c in ":\r\n"):
            raise ValueError("the password must be non-empty and free of ':' and line breaks")
        path, tmp = self.passwd / user, self.passwd / f".{user}.new"
        tmp.write_text(f"{user}:{{PLAIN}}{password}\n")
        if path.exists():
            stamp = max(time.time(), path.stat().st_mtime + 1)
            os.utime(tmp, (stamp, stamp))
            tmp.replace(path)
            time.sleep(1.0)
        else:
            tmp.replace(path)

    def new_user(self, prefix: str = "user") -> tuple[str, str]:
        """Adds a user with a fresh unique name and password; returns (user, password)."""
        user, password = f"{prefix}-{secrets.token_hex(4)}", secrets.token_hex(8)
        self.add_user(user, password)
        return user, password

    def _doveadm(self, *args: str, input: bytes | None = None) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [self._doveadm_bin, "-o", "log_path=/dev/stderr", "-c", str(self.conf), *args],
            input=input,
            capture_output=True,
            check=False,
        )
        out, err = (b.decode(errors="replace") for b in (done.stdout, done.stderr))
        return subprocess.CompletedProcess(done.args, done.returncode, out, err)

    def doveadm(self, *args: str, input: bytes | None = None) -> str:
        """Runs ``doveadm`` against this instance and returns its output; raises on failure."""
        done = self._doveadm(*args, input=input)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {done.stderr.strip()}")
        return done.stdout

    def create_folder(self, user: str, folder: str) -> None:
        """Creates (and subscribes) a folder; one that exists already is fine."""
        if folder.upper() == "INBOX":
            return
        done = self._doveadm("mailbox", "create", "-s", "-u", user, folder)
        if done.returncode != 0 and "already exists" not in done.stderr:
            raise RuntimeError(f"cannot create {folder} for {user}: {done.stderr.strip()}")

    def save(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Delivers one message with ``doveadm save`` (one process, 15-30 ms each)."""
        done = self._doveadm("save", "-u", user, "-m", folder, input=raw)
        if done.returncode != 0 and "doesn't exist" in done.stderr:
            self.create_folder(user, folder)
            done = self._doveadm("save", "-u", user, "-m", folder, input=raw)
        if done.returncode != 0:
            raise RuntimeError(f"doveadm save for {user} into {folder}: {done.stderr.strip()}")

    def save_many(self, user: str, raws: Iterable[bytes], folder: str = "INBOX") -> int:
        """Delivers many messages in order with one ``doveadm import`` (500 in 0.2-0.6 s).

        The messages are written as a maildir owned by vmail and imported from there, so
        they get consecutive UIDs in the order given. Returns how many were saved.
        """
        self.create_folder(user, folder)
        source = self.root / f"import-{next(self._imports)}"
        box = source if folder.upper() == "INBOX" else source / f".{folder}"
        uid, gid = self._vmail.pw_uid, self._vmail.pw_gid
        try:
            for sub in ("cur", "new", "tmp"):
                (box / sub).mkdir(parents=True)
            stamp, count = int(time.time()), 0
            for count, raw in enumerate(raws, start=1):
                # Dovecot orders new files by the time and microsecond parts of the name.
                path = box / "new" / f"{stamp}.M{count:06d}P{os.getpid()}.inbox-tests"
                path.write_bytes(raw)
            for directory, _dirs, files in os.walk(source):
                os.chown(directory, uid, gid)
                for name in files:
                    os.chown(os.path.join(directory, name), uid, gid)
            if count:
                mailbox = "INBOX" if folder.upper() == "INBOX" else folder
                self.doveadm("import", "-u", user, f"maildir:{source}", "", "mailbox", mailbox)
            return count
        finally:
            shutil.rmtree(source, ignore_errors=True)

    def _status(self, user: str, folder: str, field_name: str) -> int:
        out = self.doveadm("-f", "tab", "mailbox", "status", "-u", user, field_name, folder)
        header, values = out.splitlines()[:2]
        return int(dict(zip(header.split("\t"), values.split("\t"), strict=True))[field_name])

    def uidvalidity(self, user: str, folder: str = "INBOX") -> int:
        """``doveadm mailbox status -u USER uidvalidity FOLDER``."""
        return self._status(user, folder, "uidvalidity")

    def set_uidvalidity(self, user: str, folder: str, value: int) -> None:
        """``doveadm mailbox update -u USER --uid-validity N FOLDER`` (as after a restore)."""
        self.doveadm("mailbox", "update", "-u", user, "--uid-validity", str(value), folder)

    def count(self, user: str, folder: str = "INBOX") -> int:
        """How many messages the folder holds."""
        return self._status(user, folder, "messages")


# -- configuration -----------------------------------------------------------------------


def mailbox_config(
    server: Dovecot, smtp: SmtpServer, user: str, password_env: str, **extra: Any
) -> dict[str, Any]:
    """A ``[[channels.email]]`` table for ``user``'s mailbox on these servers."""
    return {
        "address": "support@inbox.test",
        "display_name": "Inbox Support",
        "imap_host": server.host,
        "imap_port": server.port,
        "imap_tls": "none",
        "imap_user": user,
        "imap_password_env": password_env,
        "smtp_host": smtp.host,
        "smtp_port": smtp.port,
        "smtp_tls": "none",
        "poll_interval": 60,  # long: new mail must be noticed through IDLE
        **extra,
    }


# -- pytest fixtures -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dovecot() -> Iterator[Dovecot]:
    """One private Dovecot for the whole run; give each test its own user (``new_user``)."""
    with Dovecot() as server:
        yield server
