"""A local SMTP server (aiosmtpd) that stores every message it accepts as an .eml file."""

from __future__ import annotations

import asyncio
import itertools
import logging
import socket
import ssl
import threading
import time
import warnings
from collections.abc import Iterable
from dataclasses import dataclass
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port that is free on ``host`` at the time of the call."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


class _StoringHandler:
    def __init__(self, server: SandboxSMTPServer) -> None:
        self.server = server

    async def handle_RCPT(  # noqa: N802
        self,
        smtp: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        if address in self.server.rejected_recipients:
            return "550 5.1.1 Mailbox unavailable"
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, smtp: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802
        if self.server.delay_seconds:
            await asyncio.sleep(self.server.delay_seconds)
        if self.server.reject_with is not None:
            return self.server.reject_with
        path = self.server.store(
            envelope.original_content or b"", envelope.rcpt_tos, mail_from=envelope.mail_from
        )
        log.info("sandbox SMTP stored a message for %s at %s", ", ".join(envelope.rcpt_tos), path)
        return "250 Message accepted for delivery"


@dataclass(frozen=True)
class ReceivedMessage:
    """One accepted message: its .eml file and the envelope of its SMTP transaction."""

    path: Path
    mail_from: str | None
    rcpt_tos: tuple[str, ...]


class SandboxSMTPServer:
    """SMTP server on loopback; ``outbox`` receives one ``.eml`` file per accepted message.

    ``implicit_tls`` and ``starttls_context`` enable TLS with the given server context;
    ``credentials`` (user, password) makes AUTH required. ``excluded_auth_mechanisms`` removes
    SASL mechanisms such as PLAIN from the EHLO reply. ``delay_seconds`` holds back the reply
    to each message's DATA, to stand in for a remote mail server's latency. RCPT TO with an
    address in ``rejected_recipients`` gets 550. ``received`` lists the envelope of every
    accepted message, in the order they arrived.
    """

    def __init__(
        self,
        outbox: Path,
        host: str = "127.0.0.1",
        port: int = 0,
        implicit_tls: ssl.SSLContext | None = None,
        starttls_context: ssl.SSLContext | None = None,
        credentials: tuple[str, str] | None = None,
        excluded_auth_mechanisms: Iterable[str] = (),
        delay_seconds: float = 0.0,
    ) -> None:
        self.outbox = Path(outbox)
        self.outbox.mkdir(parents=True, exist_ok=True)
        self.host = host
        self.port = port or free_port(host)
        self.reject_with: str | None = None
        self.rejected_recipients: set[str] = set()
        self.delay_seconds = delay_seconds
        self.received: list[ReceivedMessage] = []
        self._counter = itertools.count(1)
        self._lock = threading.Lock()

        server_kwargs: dict[str, Any] = {}
        if starttls_context is not None:
            server_kwargs.update(tls_context=starttls_context, require_starttls=True)
        if credentials is not None:
            # aiosmtpd 1.4.6 counts only a STARTTLS session as encrypted. With auth_require_tls
            # it offers no AUTH on an implicit-TLS connection, so the requirement is set for
            # STARTTLS only, and its warning about AUTH without TLS is ignored for implicit TLS.
            if implicit_tls is not None:
                warnings.filterwarnings(
                    "ignore",
                    message="Requiring AUTH while not requiring TLS",
                    category=UserWarning,
                    module="aiosmtpd.smtp",
                )
            server_kwargs.update(
                authenticator=_Authenticator(*credentials),
                auth_required=True,
                auth_require_tls=starttls_context is not None,
                auth_exclude_mechanism=list(excluded_auth_mechanisms),
            )

        self._controller = Controller(
            _StoringHandler(self),
            hostname=host,
            port=self.port,
            ssl_context=implicit_tls,
            **server_kwargs,
        )

    def start(self) -> SandboxSMTPServer:
        self._controller.start()
        return self

    def stop(self) -> None:
        self._controller.stop()

    def __enter__(self) -> SandboxSMTPServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def store(self, content: bytes, recipients: list[str], mail_from: str | None = None) -> Path:
        """Write ``content`` to a new .eml file and record the envelope in ``received``."""
        with self._lock:
            name = f"{time.strftime('%Y%m%dT%H%M%S')}-{next(self._counter):04d}.eml"
            path = self.outbox / name
            path.write_bytes(content)
            self.received.append(ReceivedMessage(path, mail_from, tuple(recipients)))
        return path

    def message_files(self) -> list[Path]:
        return sorted(self.outbox.glob("*.eml"))

    def messages(self) -> list[EmailMessage]:
        """Parse every stored message with the modern e-mail policy."""
        return [
            message_from_bytes(path.read_bytes(), policy=policy.default)  # type: ignore[misc]
            for path in self.message_files()
        ]


class _Authenticator:
    def __init__(self, username: str, password: str) -> None:
        self.username = username.encode("utf-8")
        self.password = password.encode("utf-8")

    def __call__(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
    ) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login == self.username
            and auth_data.password == self.password
        )
        return AuthResult(success=ok, handled=False)
