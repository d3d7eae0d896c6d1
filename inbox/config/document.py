"""``Settings``: the whole configuration, every area's settings together."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from inbox.config.channels import ChatSettings, EmailSettings, FormSettings, TelegramSettings
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
from inbox.config.runtime import (
    DeskSettings,
    LedgerSettings,
    ModelSettings,
    OutboxSettings,
    QueueSettings,
    StoreSettings,
    WebSettings,
)
from inbox.sla.policy import SlaSettings, TeamSla, capped
from inbox.texts import Catalogue


@dataclass(frozen=True)
class Settings:
    """Everything the product needs to start."""

    data_dir: Path
    secret: bytes
    dedup_window_minutes: float
    teams: tuple[TeamSettings, ...]
    routing: RoutingSettings = field(default_factory=RoutingSettings)
    triage: TriageSettings = field(default_factory=TriageSettings)
    queue: QueueSettings = field(default_factory=QueueSettings)
    store: StoreSettings = field(default_factory=StoreSettings)
    outbox: OutboxSettings = field(default_factory=OutboxSettings)
    ledger: LedgerSettings = field(default_factory=LedgerSettings)
    web: WebSettings = field(default_factory=WebSettings)
    desk: DeskSettings = field(default_factory=DeskSettings)
    form: FormSettings = field(default_factory=FormSettings)
    chat: ChatSettings = field(default_factory=ChatSettings)
    email: tuple[EmailSettings, ...] = ()
    telegram: TelegramSettings | None = None
    model: ModelSettings = field(default_factory=ModelSettings)
    dedup: DedupSettings = field(default_factory=DedupSettings)
    linking: LinkSettings = field(default_factory=LinkSettings)
    incidents: IncidentSettings = field(default_factory=IncidentSettings)
    sla: SlaSettings = field(default_factory=SlaSettings)
    canned: tuple[CannedReply, ...] = ()
    alerts: AlertSettings = field(default_factory=AlertSettings)
    kb: KbSettings = field(default_factory=KbSettings)
    contact: ContactSettings = field(default_factory=ContactSettings)
    csat: bool = True  # ask for a rating after the first resolution
    # What customers read, in their language: the shipped texts with ``[texts.<language>]``
    # over them.
    texts: Catalogue = field(default_factory=Catalogue)

    def team(self, name: str) -> TeamSettings:
        """The team called ``name``, the fallback team included."""
        for team in self.all_teams:
            if team.name == name:
                return team
        raise KeyError(name)

    @property
    def email_channels(self) -> frozenset[str]:
        """The channel names of the configured mailboxes."""
        return frozenset(box.name for box in self.email)

    @property
    def all_teams(self) -> tuple[TeamSettings, ...]:
        """The configured teams plus the fallback (triage) team."""
        fallback = TeamSettings(
            name=self.routing.fallback_team,
            display_name=self.routing.fallback_display_name,
            first_response_hours=self.routing.fallback_first_response_hours,
            examples=(),
            sla=TeamSla(
                targets=capped(self.sla.targets, self.routing.fallback_first_response_hours)
            ),
        )
        return (*self.teams, fallback)
