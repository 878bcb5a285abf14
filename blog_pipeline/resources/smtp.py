"""SMTP delivery of alert e-mails with the standard library's smtplib.

A send opens one connection, then runs TLS, login and one mail transaction on it. Each failure
becomes a ConfigurationError or SMTPDeliveryError that names the server, the step that failed
and the likely fix. The SMTP password is replaced by ``[redacted]`` in every message.
"""

from __future__ import annotations

import base64
import copy
import io
import logging
import smtplib
import socket
import ssl
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from email.generator import BytesGenerator
from email.message import EmailMessage
from email.policy import EmailPolicy
from typing import Any, TypeVar, cast

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from blog_pipeline.errors import BlogPipelineError, ConfigurationError, SMTPDeliveryError
from blog_pipeline.secrets import read_secret, redact
from blog_pipeline.types import SMTPSecurity

log = logging.getLogger(__name__)

# Seconds for connecting and for each SMTP command; a mail server that does not answer must not
# block the sensor daemon.
DEFAULT_TIMEOUT_SECONDS = 20.0

# Seconds to wait for the first byte of the server's greeting, or with implicit TLS for the TLS
# handshake. A port of the other security mode sends nothing: an implicit-TLS port waits for the
# client's TLS hello. This bound turns that setting mistake into a quick error that names it.
# RFC 5321 section 4.5.3.2 lets a loaded server hold back its 220 greeting for minutes. Such a
# server can exceed this bound too, and needs a larger greeting_timeout_seconds.
DEFAULT_GREETING_TIMEOUT_SECONDS = 10.0

# Port 465 is implicit TLS from the first byte (RFC 8314). Ports 587 (RFC 6409) and 25
# (RFC 5321) start in plain text and upgrade with STARTTLS (RFC 3207).
IMPLICIT_TLS_PORT = 465
PLAIN_TEXT_PORTS = frozenset({25, 587})

Security = SMTPSecurity


_Socket = TypeVar("_Socket", bound=socket.socket)


class _GreetingTimeout(TimeoutError):
    """The server sent no byte of its greeting, or no TLS handshake reply, in time."""


class _PlainClient(smtplib.SMTP):
    """smtplib.SMTP that waits at most ``greeting_timeout`` for the greeting's first byte."""

    def __init__(self, greeting_timeout: float, **kwargs) -> None:
        self.greeting_timeout = greeting_timeout
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> socket.socket:
        def wait_for_greeting(sock: socket.socket) -> socket.socket:
            # MSG_PEEK leaves the byte for smtplib, which then reads the whole greeting.
            sock.recv(1, socket.MSG_PEEK)
            return sock

        return _connect(
            host, port, timeout, self.greeting_timeout, self.source_address, wait_for_greeting
        )


class _ImplicitTLSClient(smtplib.SMTP_SSL):
    """smtplib.SMTP_SSL that waits at most ``greeting_timeout`` for the TLS handshake."""

    def __init__(self, greeting_timeout: float, **kwargs) -> None:
        self.greeting_timeout = greeting_timeout
        super().__init__(**kwargs)

    def _get_socket(self, host: str, port: int, timeout: float) -> ssl.SSLSocket:
        def handshake(sock: socket.socket) -> ssl.SSLSocket:
            return self.context.wrap_socket(sock, server_hostname=host)

        return _connect(host, port, timeout, self.greeting_timeout, self.source_address, handshake)


def _connect(
    host: str,
    port: int,
    timeout: float,
    greeting_timeout: float,
    source_address: Any,
    first_exchange: Callable[[socket.socket], _Socket],
) -> _Socket:
    """Connect, run ``first_exchange`` within ``greeting_timeout``, then apply ``timeout``.

    Raises _GreetingTimeout when the server sends nothing in time, the sign of a security mode
    that does not match the port.
    """
    sock = socket.create_connection((host, port), timeout, source_address)
    try:
        sock.settimeout(min(greeting_timeout, timeout))
        connected = first_exchange(sock)
    except TimeoutError:
        sock.close()
        raise _GreetingTimeout from None
    except BaseException:
        sock.close()
        raise
    connected.settimeout(timeout)
    return connected


class SMTPResource(dg.ConfigurableResource):
    """SMTP client for alert e-mails.

    ``security`` is chosen explicitly: ``ssl`` is implicit TLS (port 465), ``starttls`` upgrades a
    plain connection (port 587), ``none`` sends in clear text and is meant for a local test server.
    """

    host: str = Field(description="SMTP server host name.")
    port: int = Field(default=465, ge=1, le=65535, description="SMTP server port.")
    security: Security = Field(default="ssl", description="ssl (implicit TLS), starttls or none.")
    username_env_var: str | None = Field(
        default="SMTP_USER",
        description="Name of the environment variable with the SMTP user; unset for no login.",
    )
    password_env_var: str | None = Field(
        default="SMTP_PASS",
        description="Name of the environment variable with the SMTP password.",
    )
    sender: str = Field(description="From address.")
    recipients: list[str] = Field(description="One or more To addresses.")
    timeout_seconds: float = Field(default=DEFAULT_TIMEOUT_SECONDS, gt=0)
    greeting_timeout_seconds: float = Field(
        default=DEFAULT_GREETING_TIMEOUT_SECONDS,
        gt=0,
        description=(
            "Seconds to wait for the server's greeting (with ssl: the TLS handshake) before "
            "reporting a likely security/port mismatch; at most timeout_seconds is used."
        ),
    )
    ca_file: str | None = Field(
        default=None,
        description="PEM file of extra trusted CA certificates, for a server with a private CA.",
    )

    _password: str | None = PrivateAttr(default=None)

    @field_validator("recipients")
    @classmethod
    def _check_recipients(cls, value: list[str]) -> list[str]:
        cleaned = [address.strip() for address in value if address.strip()]
        if not cleaned:
            raise ValueError("recipients is empty: give at least one address, e.g. ops@example.com")
        for address in cleaned:
            if "@" not in address or any(ch in address for ch in "\r\n,; "):
                raise ValueError(
                    f"recipient {address!r} is not a single e-mail address such as ops@example.com"
                )
        return cleaned

    def setup_for_execution(self, context: dg.InitResourceContext) -> None:
        """Reject a security mode that cannot work on the port, and an unreadable ca_file."""
        self._check_security_matches_port()
        if self.security != "none":
            self._ssl_context()

    @property
    def _target(self) -> str:
        return f"{self.host}:{self.port} ({self.security})"

    def _check_security_matches_port(self) -> None:
        if self.port == IMPLICIT_TLS_PORT and self.security != "ssl":
            raise ConfigurationError(
                f"SMTP security={self.security} does not work with port {self.port}: that port "
                "expects implicit TLS, so the server waits for a TLS handshake and never sends "
                "its greeting. Set security=ssl for port 465, or port=587 for starttls "
                "(SMTP_SECURITY and SMTP_PORT in the environment)."
            )
        if self.port in PLAIN_TEXT_PORTS and self.security == "ssl":
            raise ConfigurationError(
                f"SMTP security=ssl (implicit TLS) does not work with port {self.port}: that port "
                "starts in plain text and upgrades with STARTTLS. Set security=starttls for port "
                f"{self.port}, or port=465 for ssl (SMTP_SECURITY and SMTP_PORT in the "
                "environment)."
            )

    def _credentials(self) -> tuple[str, str] | None:
        if not self.username_env_var:
            return None
        username = read_secret(self.username_env_var, purpose="SMTP user name", spaces_allowed=True)
        if self._password is None:
            if not self.password_env_var:
                raise ConfigurationError(
                    "SMTP login is configured but password_env_var is unset: name the environment "
                    "variable with the SMTP password (default SMTP_PASS)."
                )
            self._password = read_secret(
                self.password_env_var, purpose="SMTP password", spaces_allowed=True
            )
        return username, self._password

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            try:
                context.load_verify_locations(cafile=self.ca_file)
            except (OSError, ssl.SSLError) as exc:
                raise ConfigurationError(
                    f"SMTP ca_file {self.ca_file} could not be loaded: {exc}. Point ca_file at a "
                    "PEM file with the CA certificate that signed the SMTP server's certificate."
                ) from exc
        return context

    def send(self, message: EmailMessage) -> None:
        """Send ``message`` to the configured recipients.

        Raises SMTPDeliveryError with the server's reply, ConfigurationError for bad settings,
        and ValueError for a header value that contains CR or LF.
        """
        self._check_security_matches_port()
        credentials = self._credentials()
        del message["From"]
        del message["To"]
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        _check_header_lines(message)

        client = self._connect()
        try:
            if self.security == "starttls":
                self._start_tls(client)
            if credentials is not None:
                self._login(client, *credentials)
            self._transmit(client, message)
        except BaseException:
            client.close()
            raise
        _quit(client, self._target)

    def _connect(self) -> smtplib.SMTP:
        greeting_timeout = min(self.greeting_timeout_seconds, self.timeout_seconds)
        with self._reported("Connecting to"):
            try:
                if self.security == "ssl":
                    return _ImplicitTLSClient(
                        greeting_timeout,
                        host=self.host,
                        port=self.port,
                        timeout=self.timeout_seconds,
                        context=self._ssl_context(),
                    )
                return _PlainClient(
                    greeting_timeout, host=self.host, port=self.port, timeout=self.timeout_seconds
                )
            except _GreetingTimeout:
                raise SMTPDeliveryError(self._greeting_timeout_message(greeting_timeout)) from None
            except ssl.SSLCertVerificationError as exc:
                raise SMTPDeliveryError(self._verification_message(exc)) from None
            except ssl.SSLError as exc:
                raise SMTPDeliveryError(
                    f"TLS handshake with SMTP server {self._target} failed: {exc.reason or exc}. "
                    "The server probably speaks plain SMTP on this port: use security=starttls "
                    "(usually port 587), or the server's implicit-TLS port (usually 465)."
                ) from None

    def _greeting_timeout_message(self, greeting_timeout: float) -> str:
        if self.security == "ssl":
            return (
                f"SMTP server {self._target} did not answer the TLS handshake within "
                f"{greeting_timeout:g} s. Check that the port expects implicit TLS (usually 465); "
                "for a port that starts in plain text use security=starttls. A server that is "
                "only slow needs a larger greeting_timeout_seconds."
            )
        return (
            f"SMTP server {self._target} sent no greeting within {greeting_timeout:g} s. The "
            "port probably expects implicit TLS: use security=ssl (usually port 465). A server "
            "that is only slow needs a larger greeting_timeout_seconds."
        )

    def _verification_message(self, exc: ssl.SSLCertVerificationError) -> str:
        return (
            f"The TLS certificate of SMTP server {self._target} could not be verified: "
            f"{exc.verify_message or exc.reason}. Check that host is a name in the certificate; "
            "for a server with a private CA, set ca_file to that CA's PEM certificate."
        )

    def _start_tls(self, client: smtplib.SMTP) -> None:
        with self._reported("STARTTLS with"):
            try:
                client.starttls(context=self._ssl_context())
            except smtplib.SMTPNotSupportedError:
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} does not offer STARTTLS. Use its implicit-TLS "
                    "port with security=ssl, or security=none only on a trusted local network."
                ) from None
            except ssl.SSLCertVerificationError as exc:
                raise SMTPDeliveryError(self._verification_message(exc)) from None
            except ssl.SSLError as exc:
                raise SMTPDeliveryError(
                    f"TLS handshake after STARTTLS with SMTP server {self._target} failed: "
                    f"{exc.reason or exc}."
                ) from None

    def _login(self, client: smtplib.SMTP, username: str, password: str) -> None:
        variables = f"{self.username_env_var} and {self.password_env_var}"
        with self._reported("Login at"):
            try:
                if username.isascii() and password.isascii():
                    client.login(username, password)
                else:
                    self._login_plain_utf8(client, username, password)
            except smtplib.SMTPNotSupportedError:
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} does not offer AUTH. Unset username_env_var for "
                    "a server without login, or check security: many servers offer AUTH only "
                    "over TLS."
                ) from None
            except smtplib.SMTPAuthenticationError as exc:
                reply = self._redact(_decode(exc.smtp_error))
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} rejected the login with {exc.smtp_code}: "
                    f"{reply}. Check {variables}.",
                    status=exc.smtp_code,
                ) from None

    def _login_plain_utf8(self, client: smtplib.SMTP, username: str, password: str) -> None:
        # smtplib encodes AUTH data as ASCII and raises UnicodeEncodeError on anything else.
        # RFC 4616 section 2 defines the PLAIN message as UTF-8, so it is built here instead.
        client.ehlo_or_helo_if_needed()
        if not client.has_extn("auth"):
            raise smtplib.SMTPNotSupportedError("SMTP AUTH extension not supported by server.")
        mechanisms = client.esmtp_features["auth"].upper().split()
        if "PLAIN" not in mechanisms:
            raise ConfigurationError(
                f"The SMTP user name or password contains non-ASCII characters, which only AUTH "
                f"PLAIN carries as UTF-8 (RFC 4616), but SMTP server {self._target} offers "
                f"{', '.join(mechanisms) or 'no mechanism'}. Use an ASCII password or an app "
                "password."
            )
        # RFC 4616 section 2: [authzid] NUL authcid NUL passwd, with an empty authzid.
        payload = b"\0" + username.encode("utf-8") + b"\0" + password.encode("utf-8")
        code, reply = client.docmd("AUTH", "PLAIN " + base64.b64encode(payload).decode("ascii"))
        if code != 235:
            raise smtplib.SMTPAuthenticationError(code, reply)

    def _transmit(self, client: smtplib.SMTP, message: EmailMessage) -> None:
        with self._reported("Sending mail through"):
            try:
                client.ehlo_or_helo_if_needed()
                mail_options: list[str] = []
                international = not all(a.isascii() for a in [self.sender, *self.recipients])
                if international:
                    # RFC 6531: a non-ASCII address needs the server's SMTPUTF8 extension.
                    if not client.has_extn("smtputf8"):
                        raise smtplib.SMTPNotSupportedError(
                            "a non-ASCII sender or recipient address needs the SMTPUTF8 "
                            "extension, which the server does not offer"
                        )
                    mail_options = ["SMTPUTF8", "BODY=8BITMIME"]
                data = _wire_bytes(message, utf8=international)
                refused_recipients = client.sendmail(
                    self.sender, self.recipients, data, mail_options
                )
            except smtplib.SMTPRecipientsRefused as exc:
                refused = ", ".join(
                    f"{rcpt} ({code} {self._redact(_decode(reply))})"
                    for rcpt, (code, reply) in exc.recipients.items()
                )
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} refused recipients: {refused}"
                ) from None
            except smtplib.SMTPNotSupportedError as exc:
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} does not support this message: {exc}"
                ) from None
            except smtplib.SMTPResponseException as exc:
                raise SMTPDeliveryError(
                    f"SMTP server {self._target} rejected the message with {exc.smtp_code}: "
                    f"{self._redact(_decode(exc.smtp_error))}",
                    status=exc.smtp_code,
                    retryable=400 <= exc.smtp_code < 500,
                ) from None

        # smtplib raises only when every recipient is refused. A retry would send the message
        # to the others a second time, so a partial refusal is logged instead.
        for rcpt, (code, reply) in refused_recipients.items():
            log.warning(
                "SMTP server %s rejected recipient %s with %s %s, so only the others got it",
                self._target,
                rcpt,
                code,
                self._redact(_decode(reply)),
            )

    @contextmanager
    def _reported(self, action: str) -> Iterator[None]:
        """Convert errors that no step handled itself into SMTPDeliveryError for ``action``."""
        try:
            yield
        except BlogPipelineError:
            raise
        except TimeoutError:
            raise SMTPDeliveryError(self._timeout_message(action), retryable=True) from None
        except smtplib.SMTPServerDisconnected as exc:
            # smtplib turns a timeout while it reads a reply into SMTPServerDisconnected.
            if isinstance(exc.__context__, TimeoutError):
                raise SMTPDeliveryError(self._timeout_message(action), retryable=True) from None
            raise SMTPDeliveryError(
                f"{action} SMTP server {self._target} failed: the server closed the connection "
                f"({self._redact(str(exc))}).",
                retryable=True,
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise SMTPDeliveryError(
                f"{action} SMTP server {self._target} failed with {exc.smtp_code}: "
                f"{self._redact(_decode(exc.smtp_error))}",
                status=exc.smtp_code,
            ) from None
        except (UnicodeEncodeError, UnicodeDecodeError) as exc:
            # The exception's ``object`` is the whole text, which may be a secret, so only its
            # reason is shown.
            raise SMTPDeliveryError(
                f"{action} SMTP server {self._target} failed: text could not be encoded "
                f"({exc.reason})."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            detail = self._redact(str(exc) or type(exc).__name__)
            raise SMTPDeliveryError(
                f"{action} SMTP server {self._target} failed: {detail}"
            ) from None

    def _timeout_message(self, action: str) -> str:
        return (
            f"{action} SMTP server {self._target} timed out after {self.timeout_seconds:g} s. "
            "Check host, port and firewall, or raise timeout_seconds for a slow server."
        )

    def _redact(self, text: str) -> str:
        return redact(text, [self._password])


def _check_header_lines(message: EmailMessage) -> None:
    # A value set on an EmailMessage has its RFC 2047 encoded words decoded, and Python before
    # 3.11.10 writes a CR or LF decoded from one raw into the header, which adds header lines
    # (https://github.com/python/cpython/issues/121650).
    for name, value in message.items():
        if "\r" in str(value) or "\n" in str(value):
            raise ValueError(
                f"E-mail header {name} contains a line break (CR or LF), which would add header "
                "lines, so the message was not sent. Remove line breaks and RFC 2047 encoded "
                "words from the value, for example with blog_pipeline.alerts.one_line."
            )


def _wire_bytes(message: EmailMessage, utf8: bool) -> bytes:
    """Flatten ``message`` with CRLF line ends and without its Bcc headers.

    smtplib's send_message flattens with a generator that prefixes ``>`` to every body line
    starting with ``From `` (mbox quoting), which would change an error text in the alert.
    """
    # A shallow copy is enough: deleting a header gives the copy a new header list.
    outgoing = copy.copy(message)
    del outgoing["Bcc"]
    del outgoing["Resent-Bcc"]
    # Like smtplib's send_message, this needs the modern policy that EmailMessage uses.
    policy = cast(EmailPolicy, message.policy).clone(utf8=True) if utf8 else message.policy
    with io.BytesIO() as buffer:
        generator = BytesGenerator(buffer, mangle_from_=False, policy=policy)
        generator.flatten(outgoing, linesep="\r\n")
        return buffer.getvalue()


def _quit(client: smtplib.SMTP, target: str) -> None:
    # The server took responsibility for the message with its reply to DATA (RFC 5321 section
    # 6.1), so an error while closing the session must not turn the send into a failure.
    try:
        client.quit()
    except (smtplib.SMTPException, OSError) as exc:
        log.warning("QUIT to SMTP server %s failed after delivery: %s", target, type(exc).__name__)
    finally:
        client.close()


def _decode(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply
