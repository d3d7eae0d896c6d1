"""Reads config.toml into ``Settings``: each area by the typed reader, then the checks
that join several keys (teams against routing, alerts against channels, ...)."""

from __future__ import annotations

import tomllib
from dataclasses import replace
from pathlib import Path
from typing import Any

from inbox.config.decisions import (
    AlertSettings,
    CannedReply,
    ContactSettings,
    DedupSettings,
    IncidentSettings,
    KbSettings,
    LinkSettings,
    RoutingSettings,
    TeamSettings,
    TriageSettings,
)
from inbox.config.document import Settings
from inbox.config.locations import (
    QUEUE_URL_ENV,
    STORE_URL_ENV,
    from_env,
    queue_url,
    secret,
    store_url,
)
from inbox.config.parse_channels import ChannelSettings, parse_channels
from inbox.config.reader import TableReader, default_of, read_section, table_list
from inbox.config.runtime import (
    DeskSettings,
    InboxTable,
    LedgerSettings,
    ModelSettings,
    OutboxSettings,
    QueueSettings,
    StoreSettings,
    WebSettings,
)
from inbox.config.texts import parse_texts
from inbox.errors import ConfigError
from inbox.sla.policy import SlaSettings, TeamSla, parse_calendars, parse_sla, parse_team_sla


def load_settings(path: Path) -> Settings:
    """Reads and validates the TOML file at ``path``."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as err:
        raise ConfigError(f"{path}: no such configuration file") from err
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"{path}: not valid TOML: {err}") from err
    return parse_settings(raw, path.resolve().parent)


def parse_settings(raw: dict[str, Any], base: Path) -> Settings:
    """Validates a parsed TOML document; ``base`` anchors relative paths."""
    top = TableReader(raw, "")
    inbox = read_section(InboxTable, top.table_of("inbox"), base=base)
    routing = read_section(RoutingSettings, top.table_of("routing"))
    sla = parse_sla(top.table_of("sla"), parse_calendars(top.table_of("calendars")))
    triage = read_section(TriageSettings, top.table_of("triage"))
    teams = _teams(top.get("teams", None), routing, sla, triage)
    queue = read_section(QueueSettings, top.table_of("queue"), base=base)
    queue = replace(queue, url=queue_url(from_env(QUEUE_URL_ENV, queue.url)))
    store = read_section(StoreSettings, top.table_of("store"))
    store = StoreSettings(store_url(from_env(STORE_URL_ENV, store.url), base))
    outbox_table = top.table_of("outbox")
    outbox_table.get("max_attempts", None)  # no longer used (answers retry for hours); tolerated
    outbox = read_section(OutboxSettings, outbox_table)
    ledger = read_section(LedgerSettings, top.table_of("ledger"))
    web = read_section(WebSettings, top.table_of("web"))
    desk = read_section(DeskSettings, top.table_of("desk"))
    channels = parse_channels(top.table_of("channels"))
    model = read_section(ModelSettings, top.table_of("model"))
    dedup = _dedup(top.table_of("dedup"))
    canned = tuple(
        read_section(CannedReply, r) for r in table_list(top.get("canned", []), "canned")
    )
    alerts = _alerts(top.table_of("alerts"), channels)
    csat = top.table_of("csat")
    csat_enabled = csat.boolean("enabled", default_of(Settings, "csat"))
    csat.finish()
    incidents = read_section(IncidentSettings, top.table_of("incidents"))
    kb = read_section(KbSettings, top.table_of("kb"), base=base)
    contact = read_section(ContactSettings, top.table_of("contact"))
    texts = parse_texts(top.table_of("texts"))
    top.finish()
    return Settings(
        data_dir=inbox.data_dir,
        secret=secret(inbox.data_dir, inbox.secret_env),  # only once all is valid: it may write
        dedup_window_minutes=inbox.dedup_window_minutes,
        teams=teams,
        routing=routing,
        triage=triage,
        queue=queue,
        store=store,
        outbox=outbox,
        ledger=ledger,
        web=web,
        desk=desk,
        form=channels.form,
        chat=channels.chat,
        email=channels.email,
        telegram=channels.telegram,
        model=model,
        dedup=dedup,
        incidents=incidents,
        sla=sla,
        canned=canned,
        alerts=alerts,
        csat=csat_enabled,
        contact=contact,
        kb=kb,
        linking=_linking(channels),
        texts=texts,
    )


def _teams(
    raw: Any, routing: RoutingSettings, sla: SlaSettings, triage: TriageSettings
) -> tuple[TeamSettings, ...]:
    """``[[teams]]``: at least one, each named once and apart from the fallback team."""
    teams: list[TeamSettings] = []
    for i, t in enumerate(table_list(raw, "teams", non_empty=True)):
        team = read_section(TeamSettings, t, given={"sla": TeamSla()}, finish=False)
        if team.name == routing.fallback_team:
            raise ConfigError(
                f"teams[{i}].name: '{team.name}' is also routing.fallback_team; "
                "the fallback team needs a name of its own"
            )
        if any(other.name == team.name for other in teams):
            raise ConfigError(f"teams[{i}].name: '{team.name}' is used twice")
        for code in team.languages:
            if code not in triage.languages:
                raise ConfigError(
                    f"teams[{i}].languages: '{code}' is not among triage.languages "
                    f"({', '.join(triage.languages) or 'none'}), so it is never detected"
                )
        # An explicit first_response_hours caps the team's first-response targets.
        cap = team.first_response_hours if "first_response_hours" in t.table else None
        teams.append(replace(team, sla=parse_team_sla(t, sla, cap)))
        t.finish()
    names = {team.name for team in teams} | {routing.fallback_team}
    for i, team in enumerate(teams):
        if team.sla.escalate_to and team.sla.escalate_to not in names:
            raise ConfigError(f"teams[{i}].escalate_to: no team '{team.sla.escalate_to}'")
    return tuple(teams)


def _dedup(r: TableReader) -> DedupSettings:
    dedup = read_section(DedupSettings, r)
    if not dedup.suggest <= dedup.auto_merge <= 1.0:
        raise ConfigError("dedup: need suggest <= auto_merge <= 1")
    return dedup


def _alerts(r: TableReader, channels: ChannelSettings) -> AlertSettings:
    """``[alerts]``: each way of sending needs its channel."""
    alerts = read_section(AlertSettings, r)
    if alerts.email and not channels.email:
        raise ConfigError("alerts.email: needs a [[channels.email]] mailbox to send from")
    if alerts.telegram and channels.telegram is None:
        raise ConfigError("alerts.telegram: needs [channels.telegram] to send with")
    return alerts


def _linking(channels: ChannelSettings) -> LinkSettings:
    """Telegram's settings say how linking works; the web chat links the same way."""
    bot = channels.telegram
    if bot is not None:
        return LinkSettings(bot.link_via, bot.link_code_minutes, bot.links_per_hour)
    return LinkSettings(channels.email[0].name if channels.email else "")
