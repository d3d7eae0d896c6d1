"""A site's signed-in user as the chat checks them: what ``user_hash`` signs, and every
way an identity is refused."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

import pytest

from connectors.chat_identity import (
    IdentityRefused,
    SiteVisitor,
    user_hash,
    user_session,
    verify_visitor,
)
from inbox.config.settings import parse_settings
from tests.support.config import make_raw_config

SECRET = "site-and-inbox-share-this"


def site_hash(user_id: str, email: str = "") -> str:
    """The README's recipe, as a site writes it."""
    message = f"{user_id}\n{email}" if email else user_id
    return hmac.new(SECRET.encode(), message.encode(), hashlib.sha256).hexdigest()


def test_the_readme_recipe_is_what_the_chat_checks() -> None:
    assert user_hash(SECRET, "42") == site_hash("42")
    assert user_hash(SECRET, "42", "ann@example.com") == site_hash("42", "ann@example.com")
    fields = {"user_id": "42", "email": "Ann@Example.com", "name": " Ann\nExample "}
    fields["user_hash"] = site_hash("42", "Ann@Example.com").upper()  # hex in either case
    assert verify_visitor(SECRET, fields) == SiteVisitor("42", "ann@example.com", "Ann Example")
    assert verify_visitor(SECRET, {"user_id": "42", "user_hash": site_hash("42")}) == (
        SiteVisitor("42", "", "")
    )


def test_no_identity_fields_is_an_anonymous_visitor_even_with_a_name() -> None:
    assert verify_visitor(SECRET, {}) is None
    assert verify_visitor(SECRET, {"name": "Ann", "user_id": ""}) is None
    assert verify_visitor("", {"name": "Ann"}) is None


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"user_id": "42", "user_hash": "0" * 64}, "not the HMAC-SHA256 of user_id"),
        # The email is signed too: a hash of the user id alone does not let a page add one.
        (
            {"user_id": "42", "email": "eve@example.com", "user_hash": site_hash("42")},
            "not the HMAC-SHA256 of user_id and email",
        ),
        (
            {
                "user_id": "43",
                "email": "ann@example.com",
                "user_hash": site_hash("42", "ann@example.com"),
            },
            "not the HMAC-SHA256",
        ),
        ({"user_id": "42"}, "user_hash is missing"),
        ({"email": "ann@example.com", "user_hash": site_hash("42")}, "user_id is missing"),
        ({"user_hash": site_hash("42")}, "user_id is missing"),
        ({"user_id": 42, "user_hash": site_hash("42")}, "user_id must be text"),
        ({"user_id": "42", "user_hash": ["x"]}, "user_hash must be text"),
        ({"user_id": "4\n2", "user_hash": site_hash("4\n2")}, "printable characters"),
        ({"user_id": "x" * 201, "user_hash": site_hash("x" * 201)}, "at most 200"),
        ({"user_id": "42", "user_hash": "é" * 64}, "not the HMAC-SHA256"),
        (
            {
                "user_id": "42",
                "email": "not an address",
                "user_hash": site_hash("42", "not an address"),
            },
            "not a plain address",
        ),
    ],
)
def test_a_wrong_or_incomplete_identity_is_refused_with_its_reason(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(IdentityRefused) as refused:
        verify_visitor(SECRET, fields)
    assert reason in refused.value.reason


def test_without_a_secret_every_identity_is_refused() -> None:
    with pytest.raises(IdentityRefused, match="does not verify signed-in users"):
        verify_visitor("", {"user_id": "42", "user_hash": site_hash("42")})


def test_a_users_session_is_stable_secret_and_their_own() -> None:
    first = user_session(b"server-secret", "42")
    assert first == user_session(b"server-secret", "42") and len(first) == 32
    assert first != user_session(b"server-secret", "43")
    assert first != user_session(b"another-server", "42")
    assert first not in (user_hash(SECRET, "42"), site_hash("42")[:32])


def test_the_secret_comes_from_the_variable_the_config_names_and_stays_out_of_logs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("TEST_CHAT_SECRET", " s3cret ")
    monkeypatch.setenv("CHAT_IDENTITY_SECRET", "the-default-variable")
    raw = make_raw_config(
        tmp_path, **{"channels.chat": {"identity_secret_env": "TEST_CHAT_SECRET"}}
    )
    chat = parse_settings(raw, tmp_path).chat
    assert chat.identity_secret == "s3cret" and "s3cret" not in repr(chat)
    assert parse_settings(make_raw_config(tmp_path), tmp_path).chat.identity_secret == (
        "the-default-variable"
    )
    monkeypatch.delenv("CHAT_IDENTITY_SECRET")
    assert parse_settings(make_raw_config(tmp_path), tmp_path).chat.identity_secret == ""
