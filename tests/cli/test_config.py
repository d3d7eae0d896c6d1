"""Configuration: the shipped file is valid; a wrong value names its key."""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any, Literal

import pytest

from inbox.config.reader import TableReader, default_of, read_section
from inbox.config.rules import Rule, at_most
from inbox.config.runtime import InboxTable
from inbox.config.settings import (
    AlertSettings,
    ChatSettings,
    DedupSettings,
    FormSettings,
    IncidentSettings,
    KbSettings,
    ModelSettings,
    OutboxSettings,
    QueueSettings,
    RoutingSettings,
    TriageSettings,
    WebSettings,
    load_settings,
    parse_settings,
)
from inbox.errors import ConfigError
from tests.support.config import default_config
from tests.support.paths import ROOT


def test_shipped_config_loads_with_teams_and_fallback(tmp_path: Path) -> None:
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    settings = parse_settings(raw, tmp_path)
    names = [t.name for t in settings.all_teams]
    assert names[:5] == ["billing", "orders", "accounts", "technical", "general"]
    assert names[-1] == "triage"
    assert all(len(t.examples) >= 5 for t in settings.teams)
    assert (tmp_path / "secret.key").stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (
            lambda raw: raw["teams"][2].update(examples=[]),
            "teams[2].examples: must be a non-empty list",
        ),
        (lambda raw: raw["teams"][0].update(name="Bad Name"), "teams[0].name:"),
        (
            lambda raw: raw["routing"].update(threshold="high"),
            "routing.threshold: must be a number",
        ),
        (lambda raw: raw["queue"].update(batch_size=0), "queue.batch_size: must be at least 1"),
        (
            lambda raw: raw["channels"]["form"].update(enabled="yes"),
            "channels.form.enabled: must be true or false",
        ),
        (lambda raw: raw["web"].update(prot=8080), "web.prot: unknown key"),
        (
            lambda raw: raw["teams"][1].update(name="billing"),
            "teams[1].name: 'billing' is used twice",
        ),
    ],
)
def test_wrong_value_names_the_key(tmp_path: Path, mutate: object, message: str) -> None:
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    mutate(raw)  # type: ignore[operator]
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, tmp_path)
    assert message in str(caught.value)


def test_secret_comes_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("INBOX_SECRET", "from-env")
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    assert parse_settings(raw, tmp_path).secret == b"from-env"
    assert not (tmp_path / "secret.key").exists()


def test_store_and_queue_urls_come_from_the_shipped_file_or_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shipped = load_settings(ROOT / "config.toml")
    assert shipped.store.url.startswith("sqlite+aiosqlite:///") and shipped.queue.url == ""
    monkeypatch.setenv("INBOX_STORE_URL", "postgresql://inbox:pw@db.internal/inbox")
    monkeypatch.setenv("INBOX_QUEUE_URL", "redis://queue.internal:6379/0")
    scaled = load_settings(ROOT / "config.toml")  # the file's own keys stay valid
    assert scaled.store.url == "postgresql+asyncpg://inbox:pw@db.internal/inbox"
    assert scaled.queue.url == "redis://queue.internal:6379/0"
    monkeypatch.setenv("INBOX_STORE_URL", "mysql://inbox:pw@db.internal/inbox")
    with pytest.raises(ConfigError, match=r"INBOX_STORE_URL.*inbox:\*\*\*@db.internal"):
        load_settings(ROOT / "config.toml")


def test_unreadable_toml_is_a_clear_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[inbox\n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        load_settings(bad)
    with pytest.raises(ConfigError, match="no such configuration file"):
        load_settings(tmp_path / "missing.toml")
    assert (ROOT / "config.toml").exists()


def _mailbox(**extra: object) -> dict[str, object]:
    return {
        "address": "Help@Example.com",
        "imap_host": "imap.example.com",
        "imap_password_env": "TEST_CFG_IMAP_PW",
        "smtp_host": "smtp.example.com",
        **extra,
    }


def test_email_mailboxes_read_passwords_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CFG_IMAP_PW", "s3cret")
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    raw["channels"]["email"] = [_mailbox(), _mailbox(name="email-sales", folder="Sales")]
    boxes = parse_settings(raw, tmp_path).email
    assert [b.name for b in boxes] == ["email", "email-sales"]
    assert boxes[0].address == "help@example.com" and boxes[0].imap_user == "help@example.com"
    assert boxes[0].imap_password == "s3cret" and "s3cret" not in repr(boxes[0])
    assert (boxes[0].imap_port, boxes[0].smtp_port, boxes[0].smtp_tls) == (993, 587, "starttls")


@pytest.mark.parametrize(
    ("box", "message"),
    [
        (_mailbox(imap_password_env="TEST_CFG_UNSET"), "environment variable TEST_CFG_UNSET"),
        (_mailbox(imap_tls="starttls"), "channels.email[0].imap_tls: must be one of ssl, none"),
        (_mailbox(address="no address"), "channels.email[0].address"),
        (_mailbox(imap_hots="x"), "channels.email[0].imap_hots: unknown key"),
        (_mailbox(after_import="move"), "channels.email[0].move_to"),
    ],
)
def test_bad_mailbox_settings_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, box: dict[str, object], message: str
) -> None:
    monkeypatch.setenv("TEST_CFG_IMAP_PW", "s3cret")
    monkeypatch.delenv("TEST_CFG_UNSET", raising=False)
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    raw["channels"]["email"] = [box]
    with pytest.raises(ConfigError, match=message.replace("[", r"\[").replace("]", r"\]")):
        parse_settings(raw, tmp_path)


def test_telegram_reads_its_token_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CFG_TG", "42:abc")
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    assert parse_settings(raw, tmp_path).telegram is None  # off unless configured
    raw["channels"]["telegram"] = {"token_env": "TEST_CFG_TG", "base_url": "http://h:1/bot/"}
    telegram = parse_settings(raw, tmp_path).telegram
    assert telegram is not None and telegram.token == "42:abc"
    assert "42:abc" not in repr(telegram)
    assert (telegram.base_url, telegram.base_file_url) == ("http://h:1/bot", "http://h:1/file/bot")
    assert telegram.link_via == ""  # no mailbox: /link is not offered
    raw["channels"]["telegram"]["enabled"] = False
    assert parse_settings(raw, tmp_path).telegram is None


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"token_env": "TEST_CFG_UNSET"}, "TEST_CFG_UNSET holding the bot token"),
        ({"token_env": "TEST_CFG_TG", "link_via": "email-x"}, "telegram.link_via"),
        ({"token_env": "TEST_CFG_TG", "pol_timeout": 3}, "telegram.pol_timeout: unknown key"),
    ],
)
def test_bad_telegram_settings_name_the_key(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, table: dict[str, object], message: str
) -> None:
    monkeypatch.setenv("TEST_CFG_TG", "42:abc")
    monkeypatch.delenv("TEST_CFG_UNSET", raising=False)
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    raw["channels"]["telegram"] = table
    with pytest.raises(ConfigError, match=message):
        parse_settings(raw, tmp_path)


def test_an_old_outbox_max_attempts_still_loads_and_no_longer_limits_retries(
    tmp_path: Path,
) -> None:
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    raw["outbox"] = {"max_attempts": 8, "give_up_after_hours": 24}
    outbox = parse_settings(raw, tmp_path).outbox
    assert (outbox.give_up_after_hours, outbox.alert_after_minutes) == (24.0, 30.0)
    assert not hasattr(outbox, "max_attempts")


def _shipped_with(tmp_path: Path, **tables: dict[str, Any]) -> dict[str, Any]:
    """The shipped file in ``tmp_path`` with keys of ``tables`` added or replaced."""
    raw = default_config()
    raw["inbox"]["data_dir"] = str(tmp_path)
    for name, values in tables.items():
        raw.setdefault(name, {}).update(values)
    return raw


SECTIONS: dict[str, type[Any]] = {
    "inbox": InboxTable,
    "web": WebSettings,
    "queue": QueueSettings,
    "outbox": OutboxSettings,
    "model": ModelSettings,
    "channels.form": FormSettings,
    "channels.chat": ChatSettings,
    "routing": RoutingSettings,
    "dedup": DedupSettings,
    "incidents": IncidentSettings,
    "triage": TriageSettings,
    "alerts": AlertSettings,
    "kb": KbSettings,
}


def test_the_shipped_file_writes_no_default_again() -> None:
    shipped = tomllib.loads((ROOT / "config.toml").read_text())
    for section, cls in SECTIONS.items():
        table: Any = shipped
        for part in section.split("."):
            table = table.get(part, {})
        for key, value in table.items():
            written = tuple(value) if isinstance(value, list) else value
            assert written != default_of(cls, key), f"{section}.{key} repeats its default"


def test_an_absent_key_takes_the_dataclass_default(tmp_path: Path) -> None:
    raw = {"inbox": {"data_dir": str(tmp_path)}, "teams": [{"name": "a", "examples": ["x"]}]}
    settings = parse_settings(raw, tmp_path)
    assert settings.queue == replace(QueueSettings(), path=tmp_path / "var" / "queue.db")
    assert settings.store.url == f"sqlite+aiosqlite:///{tmp_path}/var/inbox.db"
    assert (settings.web, settings.outbox, settings.model) == (
        WebSettings(),
        OutboxSettings(),
        ModelSettings(),
    )
    assert (settings.form, settings.chat) == (FormSettings(), ChatSettings())
    assert (settings.routing, settings.dedup) == (RoutingSettings(), DedupSettings())
    assert (settings.triage, settings.incidents) == (TriageSettings(), IncidentSettings())
    assert settings.alerts == AlertSettings() and settings.csat is True
    assert settings.dedup_window_minutes == InboxTable().dedup_window_minutes
    assert settings.teams[0].display_name == "A" and settings.teams[0].first_response_hours == 8


def test_mailbox_defaults_follow_its_other_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CFG_IMAP_PW", "s3cret")
    table = _mailbox(imap_tls="none", smtp_tls="ssl", fetch_batch=900, attachment_max_mb=2.5)
    raw = _shipped_with(tmp_path, channels={"email": [table]})
    box = parse_settings(raw, tmp_path).email[0]
    assert (box.imap_port, box.smtp_port, box.fetch_batch) == (143, 465, 200)
    assert box.attachment_max_bytes == int(2.5 * 1024 * 1024)


def test_alert_chat_ids_must_be_a_list(tmp_path: Path) -> None:
    raw = _shipped_with(tmp_path, alerts={"telegram": 12345})
    with pytest.raises(ConfigError, match=r"alerts\.telegram: must be a list"):
        parse_settings(raw, tmp_path)


def _half(values: Any) -> Any:
    return values["whole"] / 2


@dataclass(frozen=True)
class _Sample:
    """A section to read: one field of each kind the reader knows."""

    text: str
    choice: Literal["a", "b"] = "a"
    flag: bool = True
    whole: Annotated[int, Rule(minimum=1, check=at_most(10))] = 4
    half: Annotated[float, Rule(default_from=_half)] = 0.0
    capped: Annotated[float, Rule(minimum=-1.0, cap=2.0)] = 0.0
    texts: Annotated[tuple[str, ...], Rule(non_empty=True)] = ("x",)
    path: Path = Path("here")


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({}, "s.text: must be a non-empty string"),
        ({"text": "t", "choice": "c"}, "s.choice: must be one of a, b"),
        ({"text": "t", "flag": 1}, "s.flag: must be true or false"),
        ({"text": "t", "whole": 1.5}, "s.whole: must be an integer"),
        ({"text": "t", "whole": 0}, "s.whole: must be at least 1"),
        ({"text": "t", "whole": 11}, "s.whole: must be at most 10"),
        ({"text": "t", "capped": -2}, "s.capped: must be at least -1.0"),
        ({"text": "t", "texts": []}, "s.texts: must be a non-empty list"),
        ({"text": "t", "texts": ["ok", ""]}, "s.texts[1]: must be a non-empty string"),
        ({"text": "t", "txet": 1}, "s.txet: unknown key"),
    ],
)
def test_the_typed_reader_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        read_section(_Sample, TableReader(table, "s"), base=Path("/b"))


def test_the_typed_reader_takes_defaults_caps_and_resolves_paths() -> None:
    read = read_section(_Sample, TableReader({"text": "t", "capped": 9}, "s"), base=Path("/b"))
    assert read == _Sample(text="t", half=2.0, capped=2.0, path=Path("/b/here"))
    given = read_section(
        _Sample, TableReader({"whole": 6}, "s"), base=Path("/b"), given={"text": "g"}
    )
    assert (given.text, given.half) == ("g", 3.0)


def test_the_knowledge_base_folder_is_read_beside_the_config_and_optional(tmp_path: Path) -> None:
    shipped = KbSettings(tmp_path / "inbox" / "kb" / "examples", 0.97)
    assert parse_settings(_shipped_with(tmp_path), tmp_path).kb == shipped
    assert parse_settings(default_config(), ROOT).kb.path == ROOT / "inbox" / "kb" / "examples"
    assert parse_settings(_shipped_with(tmp_path, kb={"path": ""}), tmp_path).kb.path is None
    settings = parse_settings(_shipped_with(tmp_path, kb={"path": "articles"}), tmp_path)
    assert settings.kb.path == tmp_path / "articles"
    assert parse_settings(_shipped_with(tmp_path, kb={"path": " "}), tmp_path).kb.path is None
    for precision, message in ((0.2, "at least 0.5"), (1.0, "at most 0.999")):
        with pytest.raises(ConfigError, match=f"kb.precision: must be {message}"):
            parse_settings(_shipped_with(tmp_path, kb={"precision": precision}), tmp_path)
