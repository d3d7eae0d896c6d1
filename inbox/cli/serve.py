"""``inbox serve``, ``inbox worker`` and ``inbox migrate``: running the service."""

from __future__ import annotations

import argparse
import asyncio
import os
from dataclasses import replace

from inbox.cli.store_access import open_store
from inbox.config.settings import Settings
from inbox.errors import ConfigError
from inbox.service.roles import ROLES
from inbox.service.serve import serve_roles
from inbox.service.worker_pool import WorkerPool


def _quiet_blas() -> None:
    """One BLAS thread in the service process: its matrices are tiny, and idle BLAS
    threads spin on the cores the encoder process needs. Set before numpy loads."""
    os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")


def _env_port(name: str) -> int | None:
    """A port number from the environment variable ``name``, if it is set."""
    value = os.environ.get(name, "").strip()
    if not value:
        return None
    if not value.isdigit() or not 0 <= int(value) < 65536:
        raise ConfigError(f"{name}: '{value}' is not a port number")
    return int(value)


def _health_port(args: argparse.Namespace) -> int | None:
    """``--health-port``, else ``$INBOX_HEALTH_PORT`` (read when the command runs, so a bad
    value is a configuration error, not a crash while building the parser)."""
    return args.health_port if args.health_port is not None else _env_port("INBOX_HEALTH_PORT")


def _roles(values: list[str] | None) -> tuple[str, ...]:
    """``--role web --role worker`` or ``--role web,worker``; all roles when not given."""
    if not values:
        return ROLES
    roles = [r.strip() for value in values for r in value.split(",") if r.strip()]
    unknown = [r for r in roles if r not in ROLES]
    if unknown:
        raise ConfigError(f"--role: {', '.join(unknown)}; choose from {', '.join(ROLES)}")
    return tuple(dict.fromkeys(roles))


def with_address(settings: Settings, host: str | None, port: int | None) -> Settings:
    """``settings`` served on ``--host``/``--port`` where given. A public address that was
    only the configured host and port follows them: links in messages must point where
    the pages really are."""
    if host is None and port is None:
        return settings
    old = settings.web
    web = replace(
        old, host=old.host if host is None else host, port=old.port if port is None else port
    )
    if old.public_url == f"http://{old.host}:{old.port}":
        web = replace(web, public_url=f"http://{web.host}:{web.port}")
    return replace(settings, web=web)


def cmd_serve(settings: Settings, args: argparse.Namespace) -> int:
    """Runs the service: every role in one process, or the roles given with ``--role``."""
    _quiet_blas()
    settings = with_address(settings, args.host, args.port)
    roles = _roles(args.role)
    if args.processes > 1:
        if roles != ("worker",):
            raise ConfigError(
                "--processes: only with --role worker (the other roles scale by "
                "running more of them)"
            )
        return WorkerPool(settings, args.processes, _health_port(args)).run()
    asyncio.run(serve_roles(settings, roles, _health_port(args)))
    return 0


def cmd_worker(settings: Settings, args: argparse.Namespace) -> int:
    """Runs only the worker role (the same as ``inbox serve --role worker``)."""
    _quiet_blas()
    asyncio.run(serve_roles(settings, ("worker",), _health_port(args)))
    return 0


def cmd_migrate(settings: Settings, _args: argparse.Namespace) -> int:
    """Brings the store's schema up to date."""

    async def run() -> None:
        async with open_store(settings):
            pass  # opening the store brings its schema up to date

    asyncio.run(run())
    print("store schema is up to date")
    return 0


def add_parsers(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``inbox serve``, ``inbox worker`` and ``inbox migrate``."""
    serve = sub.add_parser("serve", help="run everything in one process")
    serve.add_argument("--port", type=int, help="override web.port")
    serve.add_argument("--host", help="override web.host (0.0.0.0 in a container)")
    serve.add_argument(
        "--role",
        action="append",
        help=f"run only these roles ({', '.join(ROLES)}); repeat or comma-separate; "
        "default: all of them",
    )
    serve.add_argument(
        "--processes",
        type=int,
        default=1,
        help="with --role worker: this many worker processes sharing one model load",
    )
    serve.add_argument(
        "--health-port",
        type=int,
        help="serve /health and /metrics on this port (roles without web; "
        "default: $INBOX_HEALTH_PORT)",
    )
    serve.set_defaults(func_settings=cmd_serve)
    worker = sub.add_parser("worker", help="run only the worker (serve --role worker)")
    worker.add_argument("--health-port", type=int)
    worker.set_defaults(func_settings=cmd_worker)
    sub.add_parser("migrate", help="upgrade the store schema").set_defaults(
        func_settings=cmd_migrate
    )
