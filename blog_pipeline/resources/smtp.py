"""SMTP delivery of alert e-mails with the standard library's smtplib."""

from __future__ import annotations

import smtplib
import socket
import ssl
from email.message import EmailMessage
from typing import Literal

import dagster as dg
from pydantic import Field, PrivateAttr, field_validator

from blog_pipeline.errors import ConfigurationError, SMTPDeliveryError
from blog_pipeline.secrets import read_secret, redact

# Seconds for connecting and for each SMTP command; a mail server that does not answer must not
# block the sensor daemon.
DEFAULT_TIMEOUT_SECONDS = 20.0

Security = Literal["ssl", "starttls", "none"]


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

    def _credentials(self) -> tuple[str, str] | None:
        if not self.username_env_var:
            return None
        username = read_secret(self.username_env_var, purpose="SMTP user name")
        if self._password is None:
            if not self.password_env_var:
                raise ConfigurationError(
                    "SMTP login is configured but password_env_var is unset: name the environment "
                    "variable with the SMTP password (default SMTP_PASS)."
                )
            self._password = read_secret(self.password_env_var, purpose="SMTP password")
        return username, self._password

    def _ssl_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if self.ca_file:
            context.load_verify_locations(cafile=self.ca_file)
        return context

    def _connect(self) -> smtplib.SMTP:
        if self.security == "ssl":
            return smtplib.SMTP_SSL(
                self.host, self.port, timeout=self.timeout_seconds, context=self._ssl_context()
            )
        client = smtplib.SMTP(self.host, self.port, timeout=self.timeout_seconds)
        if self.security == "starttls":
            client.starttls(context=self._ssl_context())
        return client

    def send(self, message: EmailMessage) -> None:
        """Send ``message`` to the configured recipients.

        Raises SMTPDeliveryError with the server's reply, ConfigurationError for bad settings.
        """
        credentials = self._credentials()
        del message["From"]
        del message["To"]
        message["From"] = self.sender
        message["To"] = ", ".join(self.recipients)
        target = f"{self.host}:{self.port} ({self.security})"

        try:
            with self._connect() as client:
                if credentials is not None:
                    client.login(*credentials)
                client.send_message(message, from_addr=self.sender, to_addrs=self.recipients)
        except ssl.SSLError as exc:
            raise SMTPDeliveryError(
                f"TLS handshake with SMTP server {target} failed: {exc.reason or exc}. Check that "
                "security matches the port: ssl for 465, starttls for 587."
            ) from None
        except smtplib.SMTPNotSupportedError as exc:
            raise SMTPDeliveryError(
                f"SMTP server {target} does not support a requested extension: {exc}. For a server "
                "without STARTTLS use security=none only on a trusted local network."
            ) from None
        except smtplib.SMTPAuthenticationError as exc:
            raise SMTPDeliveryError(
                f"SMTP server {target} rejected the login with {exc.smtp_code}: "
                f"{_decode(exc.smtp_error)}. Check SMTP_USER and SMTP_PASS."
            ) from None
        except smtplib.SMTPResponseException as exc:
            raise SMTPDeliveryError(
                f"SMTP server {target} rejected the message with {exc.smtp_code}: "
                f"{_decode(exc.smtp_error)}"
            ) from None
        except smtplib.SMTPRecipientsRefused as exc:
            refused = ", ".join(
                f"{rcpt} ({code} {_decode(reply)})" for rcpt, (code, reply) in exc.recipients.items()
            )
            raise SMTPDeliveryError(f"SMTP server {target} refused recipients: {refused}") from None
        except (TimeoutError, socket.timeout):
            raise SMTPDeliveryError(
                f"SMTP server {target} timed out after {self.timeout_seconds:g} s. Check host, "
                "port and security: a plain connection to an implicit-TLS port waits forever."
            ) from None
        except UnicodeEncodeError:
            raise ConfigurationError(
                "The SMTP user name or password contains non-ASCII characters, which SMTP AUTH "
                "PLAIN/LOGIN in Python's smtplib cannot send. Use an ASCII password or an app "
                "password."
            ) from None
        except (smtplib.SMTPException, OSError) as exc:
            detail = redact(str(exc) or type(exc).__name__, [self._password])
            raise SMTPDeliveryError(f"Sending mail through SMTP server {target} failed: {detail}") from None


def _decode(reply: bytes | str) -> str:
    if isinstance(reply, bytes):
        return reply.decode("utf-8", "replace")
    return reply
