"""Where the tests find the repository and the shared data sets beside it."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHARED_DATA = ROOT.parent / "shared" / "data"
BITEXT_TEST = SHARED_DATA / "bitext-customer-service" / "test.csv"
