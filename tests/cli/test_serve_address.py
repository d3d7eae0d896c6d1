"""``inbox serve --host/--port`` and the public address links in messages use."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from inbox.cli.serve import with_address
from tests.support.config import make_settings


def test_a_port_given_on_the_command_line_moves_the_derived_public_address(
    tmp_path: Path,
) -> None:
    settings = make_settings(tmp_path)
    settings = dataclasses.replace(
        settings,
        web=dataclasses.replace(settings.web, port=8080, public_url="http://127.0.0.1:8080"),
    )
    moved = with_address(settings, None, 8090)
    assert moved.web.port == 8090 and moved.web.public_url == "http://127.0.0.1:8090"
    # A public address of its own (a proxy in front) stays as configured.
    proxied = dataclasses.replace(
        settings, web=dataclasses.replace(settings.web, public_url="https://help.example.com")
    )
    assert with_address(proxied, "127.0.0.2", 8090).web.public_url == "https://help.example.com"
    assert with_address(settings, None, None) is settings
