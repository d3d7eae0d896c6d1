"""``inbox user add``, ``password``, ``unlock``, ``disable`` and ``enable``: accounts for
the web app and the API (admins do the same at ``/admin``).

The password comes from the environment variable ``--password-env`` names, or is asked
for twice when a person is at the terminal; otherwise one is generated and shown once.
Each change is an audit event whose actor is ``cli``.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import secrets
import sys

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.errors import ConfigError, InboxError
from inbox.store.account_admin import AccountAdmin
from inbox.store.accounts import ROLES

ACTOR = "cli"  # who the audit log says made a change from the command line


def _password(args: argparse.Namespace) -> tuple[str, bool]:
    """The new password, and whether it was generated (so it must be shown)."""
    if args.password_env:
        value = os.environ.get(args.password_env, "")
        if not value:
            raise ConfigError(f"--password-env: ${args.password_env} is not set")
        return value, False
    if sys.stdin.isatty():
        try:
            first = getpass.getpass("password: ")
            again = getpass.getpass("again: ")
        except EOFError as err:  # Ctrl-D at the prompt
            print(file=sys.stderr)
            raise InboxError("no password given; nothing was changed") from err
        if first != again:
            raise InboxError("the two passwords differ")
        return first, False
    return secrets.token_urlsafe(12), True


def cmd_user_add(settings: Settings, args: argparse.Namespace) -> int:
    """Creates a person with a role, teams, a password and an API token."""
    known = {t.name for t in settings.all_teams}
    unknown = [t for t in args.team if t not in known]
    if unknown:
        raise ConfigError(f"unknown team {unknown[0]!r}; teams are: {', '.join(sorted(known))}")
    password, generated = _password(args)

    async def run() -> str:
        async with open_store(settings) as engine:
            made = await AccountAdmin(engine).create(
                ACTOR, args.name, args.team, args.role, password
            )
            return made.token

    token = asyncio.run(run())
    print(f"{args.role} {args.name} added to {', '.join(args.team)}")
    if generated:
        print(f"password: {password}")
    print(f"token: {token}")
    print(
        "sign in at /login; scripts send 'Authorization: Bearer <token>'. Neither is shown again."
    )
    return 0


def cmd_user_password(settings: Settings, args: argparse.Namespace) -> int:
    """Sets a new password (unlocks the account, signs out its browsers)."""
    password, generated = _password(args)

    async def run() -> None:
        async with open_store(settings) as engine:
            await AccountAdmin(engine).reset_password(ACTOR, args.name, password)

    asyncio.run(run())
    print(f"new password for {args.name}" + (f": {password}" if generated else " set"))
    return 0


def cmd_user_unlock(settings: Settings, args: argparse.Namespace) -> int:
    """Forgets an account's wrong passwords from every address: signing in works again."""

    async def run() -> None:
        async with open_store(settings) as engine:
            await AccountAdmin(engine).unlock(ACTOR, args.name)

    asyncio.run(run())
    print(f"{args.name} is unlocked")
    return 0


def cmd_user_switch(settings: Settings, args: argparse.Namespace) -> int:
    """Disables a person (sessions end, token and password refused) or enables them."""
    disable = args.user_cmd == "disable"

    async def run() -> None:
        async with open_store(settings) as engine:
            admin = AccountAdmin(engine)
            await (admin.disable if disable else admin.enable)(ACTOR, args.name)

    asyncio.run(run())
    print(f"{args.name} is {'disabled' if disable else 'enabled'}")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox user ...`` (and ``inbox agent add``, its older name)."""
    for command, role_default in (("user", "agent"), ("agent", "agent")):
        group = sub.add_parser(command, help="manage people: agents, supervisors, admins")
        actions = group.add_subparsers(dest=f"{command}_cmd", required=True)
        add = actions.add_parser("add", help="create an account; prints its API token once")
        add.add_argument("name")
        add.add_argument("--team", action="append", required=True, help="a team (repeatable)")
        add.add_argument("--role", choices=ROLES, default=role_default)
        add.add_argument("--password-env", help="the environment variable holding the password")
        add.set_defaults(func_settings=cmd_user_add)
        if command == "user":
            reset = actions.add_parser("password", help="set a new password")
            reset.add_argument("name")
            reset.add_argument("--password-env", help="the variable holding the password")
            reset.set_defaults(func_settings=cmd_user_password)
            free = actions.add_parser("unlock", help="forget wrong passwords: sign-in works again")
            free.add_argument("name")
            free.set_defaults(func_settings=cmd_user_unlock)
            for change, says in (
                ("disable", "end their sessions, refuse their token and password"),
                ("enable", "let a disabled person sign in and use their token again"),
            ):
                switch = actions.add_parser(change, help=says)
                switch.add_argument("name")
                switch.set_defaults(func_settings=cmd_user_switch)
