"""A small knowledge base for tests: three articles, as files or as Article values."""

from __future__ import annotations

from pathlib import Path

from inbox.kb.articles import Article, parse_article

SAMPLE_ARTICLES = {
    "reset-password.md": """---
team: accounts
questions:
  - I forgot my password
  - How do I reset my password?
---
# Resetting your password

On the sign-in page choose **Forgot password?** and type your email address. We send a
link that works for one hour; open it and choose a new password.
""",
    "opening-hours.md": """---
team: general
questions:
  - What are your opening hours?
  - When are you open?
---
# Opening hours

Our team answers every day from 8:00 to 20:00, weekends included.
""",
    "track-order.md": """---
team: orders
questions:
  - Where is my order?
  - How can I track my parcel?
---
# Following your order

Each order in your account shows its status; once shipped, the tracking number links to
the carrier's page with the parcel's position.
""",
}


def sample_articles() -> list[Article]:
    """The sample articles, parsed."""
    return [parse_article(text, name) for name, text in sorted(SAMPLE_ARTICLES.items())]


def write_sample_articles(folder: Path) -> Path:
    """Writes the sample articles into ``folder`` (created) and returns it."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in SAMPLE_ARTICLES.items():
        (folder / name).write_text(text, encoding="utf-8")
    return folder
