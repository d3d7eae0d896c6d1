"""The dashboard's bot part as files: its figures and gaps as JSON, the gaps as CSV (one
group a row, safe to open in a spreadsheet although customers wrote the questions)."""

from __future__ import annotations

import csv
import io
from typing import Any

from inbox.store.bot_figures import BotFigures, Ratings
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
    return {
        "new_conversations": f.new_conversations,
        "answered": f.answered,
        "answers": f.answers,
        "answered_share": f.answered_share,
        "resolved": f.resolved,
        "handed_off": f.handed_off,
        "waiting": f.waiting,
        "resolution_rate": f.resolution_rate,
        "handoff_rate": f.handoff_rate,
        "csat": {"bot": _ratings(f.bot_ratings), "agents": _ratings(f.agent_ratings)},
    }


def _ratings(r: Ratings) -> dict[str, Any]:
    return {"count": r.count, "average": r.average}


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
