"""The dashboard's bot part as files: its figures and gaps as JSON, the gaps as CSV (one
group a row, safe to open in a spreadsheet although customers wrote the questions)."""

from __future__ import annotations

import csv
import io
from dataclasses import asdict
from typing import Any

from inbox.store.bot_figures import BotFigures
from inbox.store.dashboard_rows import BotPart
from inbox.store.kb_gaps import GapGroup

GAP_COLUMNS = (
    "conversations",
    "question",
    "closest_article",
    "article_title",
    "confidence",
    "answered_with_article",
    "tickets",
)


def csv_cell(value: object) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ (a formula) is defused."""
    text = "" if value is None else str(value)
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def bot_json(report: BotPart) -> dict[str, Any]:
    """The figures (shares as fractions, None when there is nothing to divide by) and the
    gap groups, the biggest first."""
    return {
        "days": report.days,
        "bot": _figures(report.figures),
        "gaps": [_gap(g) for g in report.gaps],
    }


def _figures(f: BotFigures) -> dict[str, Any]:
    counts = asdict(f)
    csat = {"bot": counts.pop("bot_ratings"), "agents": counts.pop("agent_ratings")}
    rates = ("answered_share", "resolution_rate", "handoff_rate")
    return {**counts, **{rate: getattr(f, rate) for rate in rates}, "csat": csat}


def _gap(g: GapGroup) -> dict[str, Any]:
    return {
        "size": g.size,
        "question": g.text,
        "closest_article": g.article_id,
        "article_title": g.article_title,
        "confidence": g.confidence,
        "answered_with_article": g.answered_with,
        "conversations": [
            {"ticket": f"#{c.reference}", "team": c.team, "handed_off": c.handed_off}
            for c in g.conversations
        ],
    }


def gaps_csv(report: BotPart) -> str:
    """The gap groups as CSV, every cell defused."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(GAP_COLUMNS)
    for g in report.gaps:
        row = (
            g.size,
            g.text,
            g.article_id,
            g.article_title,
            g.confidence,
            "yes" if g.answered_with else "no",
            " ".join(f"#{c.reference}" for c in g.conversations),
        )
        writer.writerow([csv_cell(v) for v in row])
    return out.getvalue()
