"""JSON from strangers (request bodies, chat frames): parsed with its nesting and its
numbers bounded, so a hostile document is refused with a clear error, not a traceback.

Every refusal is a ``ValueError`` (as ``json.loads``'s own errors are), so a caller that
already answers malformed JSON with a 4xx answers these the same way.
"""

from __future__ import annotations

import json
import logging
import math
from typing import Any

from inbox.errors import InboxError

log = logging.getLogger(__name__)
# The store keeps numbers as signed 64-bit integers; a larger one names nothing there.
BIGGEST_INT = 2**63 - 1
_BIGGEST_DIGITS = len(str(BIGGEST_INT))


class UnsafeJson(InboxError, ValueError):
    """A JSON document nested too deeply, or holding a number nothing here can store."""


def fits_store(digits: str) -> bool:
    """Whether the decimal ``digits`` name a number a store column can hold."""
    digits = digits.lstrip("0") or "0"
    return len(digits) <= _BIGGEST_DIGITS and int(digits) <= BIGGEST_INT


def _bounded_int(text: str) -> int:
    if not fits_store(text.lstrip("-")):
        raise UnsafeJson(f"a number in the JSON is too large (at most {BIGGEST_INT})")
    return int(text)


def _finite_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise UnsafeJson("a number in the JSON is too large")
    return value


def _no_constant(name: str) -> Any:
    raise UnsafeJson(f"{name} is not a JSON number")


def loads(document: str | bytes) -> Any:
    """``json.loads``, refusing deep nesting, huge numbers, NaN and Infinity (logged once)."""
    try:
        return json.loads(
            document,
            parse_int=_bounded_int,
            parse_float=_finite_float,
            parse_constant=_no_constant,
        )
    except RecursionError:
        err = UnsafeJson("the JSON is nested too deeply")
    except UnsafeJson as refused:
        err = refused
    log.warning("refused a JSON document: %s", err)
    raise err
