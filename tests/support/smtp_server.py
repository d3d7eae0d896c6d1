"""A real SMTP server on loopback (aiosmtpd in its own thread) that records what it accepts
and can be told to fail the next messages; the ``smtp_server`` fixture gives each test one."""

from __future__ import annotations

import asyncio
import email
import email.policy
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Literal, Self

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.loopback import LOOPBACK, LoopbackServer


@dataclass(frozen=True)
class ReceivedMail:
    """One message as the SMTP server got it."""

    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    message: EmailMessage = field(repr=False)


_Fault = tuple[Literal["fail", "reject", "drop"], int, str]


class _Recorder:
    """The aiosmtpd handler: records messages and plays scripted faults at DATA."""

    def __init__(self) -> None:
        self.received: list[ReceivedMail] = []
        self.dropped: list[ReceivedMail] = []
        self.faults: list[_Fault] = []
        self.lock = threading.Lock()

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        data = envelope.original_content or b""
        mail = ReceivedMail(
            mail_from=envelope.mail_from or "",
            rcpt_tos=list(envelope.rcpt_tos),
            data=data,
            message=email.message_from_bytes(data, policy=email.policy.default),
        )
        with self.lock:
            fault = self.faults.pop(0) if self.faults else None
            if fault is None:
                self.received.append(mail)
            elif fault[0] == "drop":
                self.dropped.append(mail)
        if fault is None:
            return "250 2.0.0 OK: queued"
        kind, code, text = fault
        if kind != "drop":
            return f"{code} {text}"
        # Hang up before the final reply; aiosmtpd then cancels this handler.
        assert server.transport is not None
        server.transport.close()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


class _Controller(Controller):
    """aiosmtpd's threaded controller, able to listen on port 0."""

    def _trigger_server(self) -> None:
        assert isinstance(self.server, asyncio.Server)
        self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()  # type: ignore[no-untyped-call]


class SmtpServer(LoopbackServer):
    """A real SMTP server on 127.0.0.1 (aiosmtpd in its own thread) that records what it gets.

    Faults are scripted for the next messages, in order, and answered at the end of DATA.
    """

    def __init__(self) -> None:
        self._recorder = _Recorder()
        self._controller: _Controller | None = None
        self._last_port = 0

    @property
    def host(self) -> str:
        return LOOPBACK

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("the SMTP server is not started")
        port: int = self._controller.port
        return port

    @property
    def received(self) -> list[ReceivedMail]:
        """Accepted messages, oldest first (a snapshot)."""
        with self._recorder.lock:
            return list(self._recorder.received)

    @property
    def dropped(self) -> list[ReceivedMail]:
        """Messages whose DATA was read before the connection was dropped (a snapshot)."""
        with self._recorder.lock:
            return list(self._recorder.dropped)

    def _script(
        self, kind: Literal["fail", "reject", "drop"], count: int, code: int, text: str
    ) -> None:
        with self._recorder.lock:
            self._recorder.faults.extend([(kind, code, text)] * count)

    def fail_next(
        self, count: int = 1, code: int = 451, text: str = "4.3.0 Try again later"
    ) -> None:
        """The next ``count`` messages get a temporary failure (4xx) after DATA."""
        if not 400 <= code < 500:
            raise ValueError("a temporary failure has a 4xx code")
        self._script("fail", count, code, text)

    def reject_next(
        self, count: int = 1, code: int = 550, text: str = "5.7.1 Message rejected"
    ) -> None:
        """The next ``count`` messages get a permanent failure (5xx) after DATA."""
        if not 500 <= code < 600:
            raise ValueError("a permanent failure has a 5xx code")
        self._script("reject", count, code, text)

    def drop_after_data_next(self, count: int = 1) -> None:
        """For the next ``count`` messages: read DATA, then hang up without the final reply."""
        self._script("drop", count, 0, "")

    def clear_faults(self) -> None:
        """Forgets faults scripted but not yet played."""
        with self._recorder.lock:
            self._recorder.faults.clear()

    async def _wait(self, count: int, timeout: float, dropped: bool) -> list[ReceivedMail]:
        # A 5 ms poll: no helper thread to outlive a cancelled test, and no real delay.
        deadline = time.monotonic() + timeout
        while True:
            box = self.dropped if dropped else self.received
            if len(box) >= count:
                return box
            if time.monotonic() > deadline:
                what = "dropped" if dropped else "received"
                raise AssertionError(f"{len(box)} of {count} messages {what} within {timeout}s")
            await asyncio.sleep(0.005)

    async def wait_for(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Returns once at least ``count`` messages were accepted (all of them so far)."""
        return await self._wait(count, timeout, dropped=False)

    async def wait_for_dropped(self, count: int, timeout: float = 10.0) -> list[ReceivedMail]:
        """Returns once at least ``count`` messages were dropped after DATA."""
        return await self._wait(count, timeout, dropped=True)

    def start(self) -> Self:
        if self._controller is None:
            controller = _Controller(self._recorder, hostname=LOOPBACK, port=0)
            controller.start()
            self._controller = controller
        return self

    def stop(self) -> None:
        controller, self._controller = self._controller, None
        if controller is not None:
            self._last_port = controller.port
            controller.stop()

    def start_again(self) -> Self:
        """Back after a ``stop``, on the same port (a mail server returning from an outage);
        what it received before is kept."""
        if self._controller is None:
            controller = _Controller(self._recorder, hostname=LOOPBACK, port=self._last_port)
            controller.start()
            self._controller = controller
        return self


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """A fresh recording SMTP server for one test."""
    with SmtpServer() as server:
        yield server
