"""The live triage: phrases, meaning and language together, built from the settings."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from classifiers.embedder import Embedder, Vectors
from classifiers.meaning import LanguageDetector, Match, MeaningTriage
from classifiers.triage import Triage
from inbox.config.settings import Settings
from inbox.models import Envelope, Priority, RoutingDecision, TriageDecision
from inbox.text import embedding_text


class TriageService:
    """Assesses batches of messages on the vectors the worker already computed."""

    def __init__(
        self,
        triage: Triage,
        meaning: MeaningTriage | None,
        detector: LanguageDetector | None,
        language_teams: dict[str, str],
    ) -> None:
        self.triage = triage
        self.meaning = meaning
        self.detector = detector
        self.language_teams = language_teams

    @classmethod
    async def build(cls, settings: Settings, embedder: Embedder) -> TriageService:
        """Encodes the configured example phrases once."""
        t = settings.triage
        triage = Triage(t.urgent_phrases, t.high_phrases, t.vip_contacts)
        kinds = {
            "urgent": t.urgent_examples,
            "negative": t.negative_examples,
            "spam": t.spam_examples,
            "unsubscribe": settings.contact.unsubscribe_examples,
        }
        meaning = None
        texts = [text for phrases in kinds.values() for text in phrases]
        if texts:
            encoded = await embedder.encode_async([embedding_text("", x) for x in texts])
            vectors: dict[str, Vectors] = {}
            start = 0
            for kind, phrases in kinds.items():
                vectors[kind] = encoded[start : start + len(phrases)]
                start += len(phrases)
            thresholds = {
                "urgent": t.urgent_similarity,
                "negative": t.negative_similarity,
                "spam": t.spam_similarity,
                "unsubscribe": settings.contact.unsubscribe_similarity,
            }
            meaning = MeaningTriage(kinds, vectors, thresholds)
        detector = LanguageDetector(t.languages) if t.languages else None
        teams = {code: team.name for team in settings.teams for code in team.languages}
        return cls(triage, meaning, detector, teams)

    def is_vip(self, address: str) -> bool:
        """Whether the address (or its domain) is a VIP."""
        return self.triage.is_vip(address)

    def assess(self, envelopes: Sequence[Envelope], vectors: Vectors) -> list[TriageDecision]:
        """One decision per envelope; ``vectors`` are theirs, in order."""
        matches: list[dict[str, Match]] = (
            self.meaning.matches(vectors) if self.meaning is not None and len(vectors) else []
        )
        decisions = []
        for i, env in enumerate(envelopes):
            if env.automated:
                decisions.append(TriageDecision(Priority.LOW, (f"automated: {env.automated}",)))
                continue
            language = self.detector.detect(env.routing_text) if self.detector else ""
            found = matches[i] if matches else {}
            decision = self.triage.assess(
                env.subject, env.routing_text, env.address, found or None, language
            )
            if "unsubscribe" in found:
                decision = dataclasses.replace(decision, unsubscribe=found["unsubscribe"].reason())
            decisions.append(decision)
        return decisions

    def route_by_language(
        self, decision: RoutingDecision, triage: TriageDecision
    ) -> RoutingDecision:
        """Sends a message in a language a team serves to that team, whatever its topic."""
        team = self.language_teams.get(triage.language)
        if team is None or team == decision.team:
            return decision
        return dataclasses.replace(decision, team=team, abstained=False, language_team=team)
