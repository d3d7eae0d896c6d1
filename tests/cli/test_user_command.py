"""``inbox user ...`` at a terminal: unlocking, disabling and enabling an account (each an
audit event by ``cli``), and Ctrl-D at a prompt."""

from __future__ import annotations

import asyncio
import os
import pty
import select
import subprocess
import sys
from pathlib import Path

import pytest

from inbox import tomlwrite
from inbox.config.settings import parse_settings
from inbox.store.account_admin import AccountAdmin
from inbox.store.accounts import MAX_FAILED_LOGINS, Accounts, LoginRefused
from inbox.store.engine import create_engine
from tests.support.config import make_raw_config
from tests.support.paths import ROOT

PASSWORD = "correct horse battery"


def _config(tmp_path: Path) -> Path:
    path = tmp_path / "config.toml"
    path.write_text(tomlwrite.dumps(make_raw_config(tmp_path)))
    return path


def _inbox(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "inbox.cli", "--config", str(config), "user", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
        check=False,
        env={**os.environ, "NEW_PASSWORD": PASSWORD},
    )


async def _sign_in(url: str, password: str, source: str) -> bool:
    engine = create_engine(url)
    try:
        await Accounts(engine).login("bob", password, source)
        return True
    except LoginRefused:
        return False
    finally:
        await engine.dispose()


def test_user_unlock_lets_a_locked_out_address_sign_in_again(tmp_path: Path) -> None:
    config = _config(tmp_path)
    added = _inbox(config, "add", "bob", "--team", "billing", "--password-env", "NEW_PASSWORD")
    assert added.returncode == 0, added.stderr
    url = parse_settings(make_raw_config(tmp_path), tmp_path).store.url
    for _ in range(MAX_FAILED_LOGINS):
        assert not asyncio.run(_sign_in(url, "a wrong guess", "192.0.2.7"))
    assert not asyncio.run(_sign_in(url, PASSWORD, "192.0.2.7"))  # locked for that address
    unlocked = _inbox(config, "unlock", "bob")
    assert unlocked.returncode == 0, unlocked.stderr
    assert "bob is unlocked" in unlocked.stdout
    assert asyncio.run(_sign_in(url, PASSWORD, "192.0.2.7"))
    unknown = _inbox(config, "unlock", "nobody")
    assert unknown.returncode == 1 and "nobody called 'nobody'" in unknown.stderr


async def _audit(url: str) -> list[tuple[str, str, str]]:
    engine = create_engine(url)
    try:
        return [(e.actor, e.action, e.target) for e in await AccountAdmin(engine).audit()]
    finally:
        await engine.dispose()


def test_user_disable_and_enable(tmp_path: Path) -> None:
    config = _config(tmp_path)
    added = _inbox(config, "add", "bob", "--team", "billing", "--password-env", "NEW_PASSWORD")
    assert added.returncode == 0, added.stderr
    url = parse_settings(make_raw_config(tmp_path), tmp_path).store.url
    disabled = _inbox(config, "disable", "bob")
    assert disabled.returncode == 0 and "bob is disabled" in disabled.stdout, disabled.stderr
    assert not asyncio.run(_sign_in(url, PASSWORD, "192.0.2.7"))
    enabled = _inbox(config, "enable", "bob")
    assert enabled.returncode == 0 and "bob is enabled" in enabled.stdout, enabled.stderr
    assert asyncio.run(_sign_in(url, PASSWORD, "192.0.2.7"))
    assert asyncio.run(_audit(url)) == [
        ("cli", "user_enabled", "bob"),
        ("cli", "user_disabled", "bob"),
        ("cli", "user_created", "bob"),
    ]


def _read_until(fd: int, wanted: bytes | None, seconds: float = 120.0) -> bytes:
    """What the terminal shows until ``wanted`` appears (None: until the program ends)."""
    seen = b""
    while wanted is None or wanted not in seen:
        ready, _, _ = select.select([fd], [], [], seconds)
        assert ready, f"nothing more on the terminal; so far: {seen!r}"
        try:
            chunk = os.read(fd, 4096)
        except OSError:  # EIO: the program closed the terminal
            break
        if not chunk:
            break
        seen += chunk
    return seen


@pytest.mark.parametrize("command", [("add", "carl", "--team", "billing"), ("password", "carl")])
def test_ctrl_d_at_the_password_prompt_is_a_clear_message(
    tmp_path: Path, command: tuple[str, ...]
) -> None:
    config = _config(tmp_path)
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "inbox.cli", "--config", str(config), "user", *command],
        stdin=terminal,
        stdout=terminal,
        stderr=terminal,
        cwd=ROOT,
        start_new_session=True,  # no controlling terminal: getpass reads this one
    )
    os.close(terminal)
    try:
        _read_until(controller, b"password: ")
        os.write(controller, b"\x04")  # Ctrl-D
        shown = _read_until(controller, None).decode(errors="replace")
        assert process.wait(timeout=60) == 1, shown
    finally:
        os.close(controller)
        if process.poll() is None:
            process.kill()
            process.wait()
    assert "error: no password given; nothing was changed" in shown, shown
    assert "Traceback" not in shown, shown
