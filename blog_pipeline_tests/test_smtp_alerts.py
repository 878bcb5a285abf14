"""Alert e-mails through SMTPResource against aiosmtpd on loopback: content, TLS, login, errors."""

from __future__ import annotations

import base64
import datetime as dt
import html
import ipaddress
import logging
import re
import shutil
import socket
import ssl
import subprocess
import time
import unicodedata
from collections.abc import Iterator
from contextlib import contextmanager
from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path

import dagster as dg
import pytest

from blog_pipeline.alerts import FailureAlert, StepFailure, build_email, build_subject
from blog_pipeline.errors import ConfigurationError, SMTPDeliveryError
from blog_pipeline.resources import SMTPResource
from blog_pipeline.sandbox import SandboxSMTPServer
from blog_pipeline_tests.conftest import skip_or_fail

SENDER = "pipeline@example.com"
RECIPIENTS = ("ops@example.com", "team@example.com")
USER = "alert-sender"
PASSWORD = "alert-password-ascii"
NON_ASCII_PASSWORD = "pässwörd-ü€"
INJECTED_BCC = "Bcc: victim@example.com"

# Upper bound for an error that must come from the greeting timeout. It only guards against a
# hang: the command timeout in those tests is 60 s, so passing it means the 2 s greeting
# timeout fired, and the margin absorbs a slow CI machine.
HANG_GUARD_SECONDS = 15


# --- certificates and servers ---------------------------------------------------------------------


def _certificate_with_cryptography(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "blog-pipeline test SMTP")])
    now = dt.datetime.now(dt.UTC)
    names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
    # CA:TRUE with keyCertSign, like `openssl req -x509`, so the certificate is its own trust
    # anchor in ca_file.
    key_usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _certificate_with_openssl(directory: Path) -> tuple[Path, Path]:
    openssl = shutil.which("openssl")
    if openssl is None:
        skip_or_fail("neither the cryptography package nor the openssl command is installed")
    cert_path = directory / "cert.pem"
    key_path = directory / "key.pem"
    subprocess.run(
        [
            openssl,
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=blog-pipeline test SMTP",
            "-addext",
            "subjectAltName=IP:127.0.0.1,DNS:localhost",
            "-keyout",
            str(key_path),
            "-out",
            str(cert_path),
        ],
        check=True,
        capture_output=True,
    )
    return cert_path, key_path


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key, as PEM files."""
    directory = tmp_path_factory.mktemp("tls")
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return _certificate_with_openssl(directory)
    return _certificate_with_cryptography(directory)


def _server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(*certificate)
    return context


@contextmanager
def _running(outbox: Path, **kwargs) -> Iterator[SandboxSMTPServer]:
    with SandboxSMTPServer(outbox, **kwargs) as server:
        yield server


def _resource(
    server: SandboxSMTPServer, security: str = "none", login: bool = False, **overrides
) -> SMTPResource:
    """An SMTPResource for ``server``, set up as Dagster sets it up for a run."""
    settings = {
        "host": "127.0.0.1",
        "port": server.port,
        "security": security,
        "username_env_var": "SMTP_USER" if login else None,
        "password_env_var": "SMTP_PASS" if login else None,
        "sender": SENDER,
        "recipients": list(RECIPIENTS),
        "timeout_seconds": 10,
        **overrides,
    }
    resource = SMTPResource(**settings)
    _set_up(resource)
    return resource


def _set_up(resource: SMTPResource) -> None:
    """Run the resource's setup as Dagster does when a run or sensor starts it."""
    with dg.build_init_resource_context() as context:
        resource.setup_for_execution(context)


def _alert(**overrides) -> FailureAlert:
    fields = {
        "run_id": "6f1c2a9e-0b7d-4c55-9a0e-3c1d2e4f5a6b",
        "job_name": "daily_blogpost",
        "run_url": "http://127.0.0.1:3000/runs/6f1c2a9e-0b7d-4c55-9a0e-3c1d2e4f5a6b",
        "environment": "sandbox",
        "run_message": "Execution of run for daily_blogpost failed.",
        "step_failures": [StepFailure("buffer_post", "BufferError: HTTP 502")],
        **overrides,
    }
    return FailureAlert(**fields)


# --- reading what the server stored ---------------------------------------------------------------


def _header_fields(raw: bytes) -> list[bytes]:
    """Unfolded header fields of a raw message, one ``Name: value`` per entry."""
    block = re.split(rb"\r?\n\r?\n", raw, maxsplit=1)[0]
    fields: list[bytes] = []
    for line in re.split(rb"\r?\n", block):
        if line[:1] in (b" ", b"\t") and fields:
            fields[-1] += line
        else:
            fields.append(line)
    return fields


def _header_names(raw: bytes) -> list[bytes]:
    return [field.split(b":", 1)[0].strip().lower() for field in _header_fields(raw)]


def _parse(raw: bytes) -> EmailMessage:
    return message_from_bytes(raw, policy=policy.default)  # type: ignore[return-value]


def _only_message(server: SandboxSMTPServer) -> tuple[bytes, EmailMessage]:
    [received] = server.received
    assert received.mail_from == SENDER
    assert received.rcpt_tos == RECIPIENTS
    raw = received.path.read_bytes()
    return raw, _parse(raw)


def _body(mail: EmailMessage, subtype: str) -> str:
    """The decoded text/``subtype`` part, with the wire's CRLF line ends (RFC 5322) as LF."""
    part = mail.get_body((subtype,))
    assert part is not None, f"no text/{subtype} part"
    return part.get_content().replace("\r\n", "\n")


# --- error text in the body -----------------------------------------------------------------------


def test_body_escapes_html_keeps_text(tmp_path: Path) -> None:
    error = (
        "BufferError: <b>Queue</b> & \"closed\" 'now'\n"
        f"{INJECTED_BCC}\n"
        "From the sandbox: Grüße ✓\n"
        "\tindented line with trailing spaces   "
    )
    alert = _alert(step_failures=[StepFailure("buffer_post", error)])

    with _running(tmp_path / "outbox") as server:
        _resource(server).send(build_email(alert))

        raw, mail = _only_message(server)

    assert b"bcc" not in _header_names(raw)
    assert mail["Bcc"] is None
    text = _body(mail, "plain")
    page = _body(mail, "html")
    assert error in text
    assert html.escape(error) in page
    assert "<b>Queue</b>" not in page
    assert INJECTED_BCC in page


def test_dot_line_stays_in_body(tmp_path: Path) -> None:
    # A line with a single dot ends DATA, so the client must double it (RFC 5321 section 4.5.2).
    # Otherwise the following lines would run as SMTP commands with a recipient of their own.
    smuggled = (
        "first line\n.\nMAIL FROM:<evil@example.com>\nRCPT TO:<victim@example.com>\nDATA\n"
        "Subject: smuggled\n\nsecond message\n.\nQUIT"
    )
    alert = _alert(step_failures=[], run_message=smuggled)

    with _running(tmp_path / "outbox") as server:
        _resource(server).send(build_email(alert))

        raw, mail = _only_message(server)

    assert smuggled in _body(mail, "plain")
    assert mail["Subject"] == build_subject(alert)


def test_long_line_and_surrogates_sent(tmp_path: Path) -> None:
    long_line = "Traceback detail " + "x" * 5000
    undecodable = "stderr: caf\udce9 au lait"
    alert = _alert(step_failures=[StepFailure("openai_article", f"{long_line}\n{undecodable}")])

    with _running(tmp_path / "outbox") as server:
        _resource(server).send(build_email(alert))

        raw, mail = _only_message(server)

    # RFC 5321 section 4.5.3.1.6: a line is at most 1000 octets with its CRLF.
    assert max(len(line) for line in raw.split(b"\r\n")) <= 998
    assert raw.isascii()
    text = _body(mail, "plain")
    assert long_line in text
    assert "stderr: caf\\udce9 au lait" in text


def test_partly_refused_recipients_logged(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    with _running(tmp_path / "outbox") as server:
        server.rejected_recipients.add("team@example.com")
        _resource(server).send(build_email(_alert()))

        [received] = server.received

    assert received.rcpt_tos == ("ops@example.com",)
    warnings = [
        record.getMessage()
        for record in caplog.records
        if record.name == "blog_pipeline.resources.smtp" and record.levelno == logging.WARNING
    ]
    assert len(warnings) == 1
    assert "rejected recipient team@example.com with 550" in warnings[0]


def test_all_recipients_refused_raises(tmp_path: Path) -> None:
    with _running(tmp_path / "outbox") as server:
        server.rejected_recipients.update(RECIPIENTS)
        with pytest.raises(SMTPDeliveryError) as caught:
            _resource(server).send(build_email(_alert()))

        assert server.received == []

    message = str(caught.value)
    assert "refused recipients" in message
    assert "ops@example.com (550 5.1.1 Mailbox unavailable)" in message
    assert "team@example.com (550 5.1.1 Mailbox unavailable)" in message


# --- subject --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "job_name",
    [
        f"daily_blogpost\r\n{INJECTED_BCC}",
        f"daily_blogpost\n{INJECTED_BCC}\rX-Extra: 1",
        "daily_blogpost =?utf-8?q?x=0D=0ABcc:_victim@example.com?=",
        "daily_blogpost\x00\x1b[31m\x85\u2028" + INJECTED_BCC,
    ],
    ids=["crlf", "lf-and-cr", "encoded-word", "control-characters"],
)
def test_subject_stays_one_line(tmp_path: Path, job_name: str) -> None:
    alert = _alert(job_name=job_name)

    with _running(tmp_path / "outbox") as server:
        _resource(server).send(build_email(alert))

        raw, mail = _only_message(server)

    subject = mail["Subject"]
    assert subject == build_subject(alert)
    assert "\r" not in subject
    assert "\n" not in subject
    assert "victim@example.com" in subject
    assert [char for char in subject if unicodedata.category(char) == "Cc"] == []
    names = _header_names(raw)
    assert names.count(b"subject") == 1
    assert b"bcc" not in names
    assert b"x-extra" not in names
    assert mail["Bcc"] is None


def test_non_ascii_subject_rfc2047_encoded(tmp_path: Path) -> None:
    alert = _alert(job_name="tägliche_übersicht ✓", environment="prüfung")

    with _running(tmp_path / "outbox") as server:
        _resource(server).send(build_email(alert))

        raw, mail = _only_message(server)

    [subject_field] = [f for f in _header_fields(raw) if f.lower().startswith(b"subject:")]
    assert b"=?utf-8?" in subject_field
    assert subject_field.isascii()
    assert raw.isascii()
    assert (
        mail["Subject"] == "[blog-pipeline prüfung] tägliche_übersicht ✓ failed at step buffer_post"
    )


def test_send_rejects_decoded_line_break(tmp_path: Path) -> None:
    message = EmailMessage()
    message["Subject"] = "=?utf-8?q?alert=0D=0ABcc:_victim@example.com?="
    message.set_content("body")

    with _running(tmp_path / "outbox") as server:
        with pytest.raises(ValueError, match="header Subject contains a line break"):
            _resource(server).send(message)

        assert server.received == []


# --- TLS and login --------------------------------------------------------------------------------


@pytest.mark.parametrize("security", ["ssl", "starttls"])
@pytest.mark.parametrize("password", [PASSWORD, NON_ASCII_PASSWORD], ids=["ascii", "non-ascii"])
def test_tls_login_delivers_alert(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    certificate: tuple[Path, Path],
    security: str,
    password: str,
) -> None:
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASS", password)
    tls = {
        "implicit_tls" if security == "ssl" else "starttls_context": _server_context(certificate)
    }

    with _running(tmp_path / "outbox", credentials=(USER, password), **tls) as server:
        smtp = _resource(server, security, login=True, ca_file=str(certificate[0]))
        smtp.send(build_email(_alert()))

        _raw, mail = _only_message(server)

    assert mail["Subject"] == build_subject(_alert())


def test_non_ascii_user_logs_in(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    user = "jürgen@example.com"
    monkeypatch.setenv("SMTP_USER", user)
    monkeypatch.setenv("SMTP_PASS", NON_ASCII_PASSWORD)
    context = _server_context(certificate)

    with _running(
        tmp_path / "outbox", starttls_context=context, credentials=(user, NON_ASCII_PASSWORD)
    ) as server:
        smtp = _resource(server, "starttls", login=True, ca_file=str(certificate[0]))
        smtp.send(build_email(_alert()))

        _only_message(server)


def test_starttls_server_rejects_plain_session(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    # The STARTTLS tests above prove TLS only because this server refuses a plain session.
    with _running(tmp_path / "outbox", starttls_context=_server_context(certificate)) as server:
        with pytest.raises(SMTPDeliveryError, match="530"):
            _resource(server, "none").send(build_email(_alert()))

        assert server.received == []


def test_non_ascii_password_needs_plain(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, certificate: tuple[Path, Path]
) -> None:
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASS", NON_ASCII_PASSWORD)

    with _running(
        tmp_path / "outbox",
        implicit_tls=_server_context(certificate),
        credentials=(USER, NON_ASCII_PASSWORD),
        excluded_auth_mechanisms=["PLAIN"],
    ) as server:
        smtp = _resource(server, "ssl", login=True, ca_file=str(certificate[0]))
        with pytest.raises(ConfigurationError) as caught:
            smtp.send(build_email(_alert()))

        assert server.received == []

    message = str(caught.value)
    assert "non-ASCII" in message
    assert "AUTH PLAIN" in message
    assert "offers LOGIN" in message
    assert NON_ASCII_PASSWORD not in message


def test_untrusted_certificate_names_ca_file(
    tmp_path: Path, certificate: tuple[Path, Path]
) -> None:
    with _running(tmp_path / "outbox", implicit_tls=_server_context(certificate)) as server:
        with pytest.raises(SMTPDeliveryError) as caught:
            _resource(server, "ssl").send(build_email(_alert()))

        assert server.received == []

    message = str(caught.value)
    assert "certificate of SMTP server 127.0.0.1" in message
    assert "could not be verified" in message
    assert "ca_file" in message


def test_missing_ca_file_rejected_at_setup(tmp_path: Path) -> None:
    missing = tmp_path / "no-such-ca.pem"

    smtp = SMTPResource(
        host="127.0.0.1",
        port=2465,
        security="ssl",
        sender=SENDER,
        recipients=list(RECIPIENTS),
        ca_file=str(missing),
    )

    with pytest.raises(ConfigurationError, match=f"ca_file {re.escape(str(missing))}"):
        _set_up(smtp)


def test_certificate_from_openssl_command(tmp_path: Path) -> None:
    # The certificate fixture uses the cryptography package where it is installed, so this test
    # covers the openssl fallback on such machines too.
    if shutil.which("openssl") is None:
        pytest.skip("the openssl command is not installed")
    directory = tmp_path / "tls"
    directory.mkdir()
    certificate = _certificate_with_openssl(directory)

    with _running(tmp_path / "outbox", implicit_tls=_server_context(certificate)) as server:
        _resource(server, "ssl", ca_file=str(certificate[0])).send(build_email(_alert()))

        _only_message(server)


# --- security and port that do not match ----------------------------------------------------------


@pytest.mark.parametrize(
    ("port", "security", "fix"),
    [
        (465, "starttls", "Set security=ssl for port 465"),
        (465, "none", "Set security=ssl for port 465"),
        (587, "ssl", "Set security=starttls for port 587"),
        (25, "ssl", "Set security=starttls for port 25"),
    ],
)
def test_security_port_mismatch_rejected_at_setup(port: int, security: str, fix: str) -> None:
    smtp = SMTPResource(
        host="127.0.0.1",
        port=port,
        security=security,
        username_env_var=None,
        password_env_var=None,
        sender=SENDER,
        recipients=list(RECIPIENTS),
    )

    with pytest.raises(ConfigurationError) as at_setup:
        _set_up(smtp)
    with pytest.raises(ConfigurationError) as at_send:
        smtp.send(build_email(_alert()))

    for caught in (at_setup, at_send):
        message = str(caught.value)
        assert f"security={security}" in message
        assert f"port {port}" in message
        assert fix in message


@pytest.mark.parametrize(
    ("port", "security"), [(465, "ssl"), (587, "starttls"), (25, "starttls"), (25, "none")]
)
def test_matching_security_port_pass_setup(port: int, security: str) -> None:
    smtp = SMTPResource(
        host="127.0.0.1",
        port=port,
        security=security,
        sender=SENDER,
        recipients=list(RECIPIENTS),
    )

    _set_up(smtp)


@pytest.mark.parametrize("security", ["none", "starttls"])
def test_plain_on_implicit_tls_fails_fast(
    tmp_path: Path, certificate: tuple[Path, Path], security: str
) -> None:
    with _running(tmp_path / "outbox", implicit_tls=_server_context(certificate)) as server:
        smtp = _resource(server, security, timeout_seconds=60, greeting_timeout_seconds=2)
        started = time.monotonic()
        with pytest.raises(SMTPDeliveryError) as caught:
            smtp.send(build_email(_alert()))
        elapsed = time.monotonic() - started

    assert elapsed < HANG_GUARD_SECONDS
    message = str(caught.value)
    assert "sent no greeting within 2 s" in message
    assert "expects implicit TLS: use security=ssl" in message


@pytest.mark.parametrize("starttls", [False, True], ids=["plain-server", "starttls-server"])
def test_ssl_on_plain_port_fails_fast(
    tmp_path: Path, certificate: tuple[Path, Path], starttls: bool
) -> None:
    tls = {"starttls_context": _server_context(certificate)} if starttls else {}

    with _running(tmp_path / "outbox", **tls) as server:
        smtp = _resource(
            server,
            "ssl",
            ca_file=str(certificate[0]),
            timeout_seconds=60,
            greeting_timeout_seconds=2,
        )
        started = time.monotonic()
        with pytest.raises(SMTPDeliveryError) as caught:
            smtp.send(build_email(_alert()))
        elapsed = time.monotonic() - started

    assert elapsed < HANG_GUARD_SECONDS
    message = str(caught.value)
    assert "TLS handshake with SMTP server" in message
    assert "speaks plain SMTP on this port: use security=starttls" in message


@pytest.mark.parametrize(
    ("security", "expected"),
    [
        ("none", "sent no greeting within 2 s"),
        ("starttls", "sent no greeting within 2 s"),
        ("ssl", "did not answer the TLS handshake within 2 s"),
    ],
)
def test_silent_server_fails_fast(security: str, expected: str) -> None:
    # The kernel completes the TCP handshake for a listening socket that never accepts, so the
    # client connects and then hears nothing, as from a hung or firewalled mail server.
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        smtp = SMTPResource(
            host="127.0.0.1",
            port=port,
            security=security,
            username_env_var=None,
            password_env_var=None,
            sender=SENDER,
            recipients=list(RECIPIENTS),
            timeout_seconds=60,
            greeting_timeout_seconds=2,
        )
        started = time.monotonic()
        with pytest.raises(SMTPDeliveryError, match=expected):
            smtp.send(build_email(_alert()))
        elapsed = time.monotonic() - started

    assert elapsed < HANG_GUARD_SECONDS


def test_slow_reply_names_command_timeout(tmp_path: Path) -> None:
    with _running(tmp_path / "outbox", delay_seconds=3) as server:
        smtp = _resource(server, timeout_seconds=1)
        started = time.monotonic()
        with pytest.raises(SMTPDeliveryError) as caught:
            smtp.send(build_email(_alert()))
        elapsed = time.monotonic() - started

    assert elapsed < HANG_GUARD_SECONDS
    message = str(caught.value)
    assert "Sending mail through SMTP server 127.0.0.1" in message
    assert "timed out after 1 s" in message
    assert caught.value.retryable


def test_starttls_without_server_support(tmp_path: Path) -> None:
    with _running(tmp_path / "outbox") as server:
        with pytest.raises(SMTPDeliveryError, match="does not offer STARTTLS"):
            _resource(server, "starttls").send(build_email(_alert()))


def test_login_without_server_auth(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASS", PASSWORD)

    with _running(tmp_path / "outbox") as server:
        with pytest.raises(SMTPDeliveryError, match="does not offer AUTH"):
            _resource(server, "none", login=True).send(build_email(_alert()))


# --- secrets --------------------------------------------------------------------------------------


def _exception_texts(error: BaseException) -> list[str]:
    """str and repr of ``error`` and of every exception chained to it."""
    texts = []
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), *map(repr, seen.args)]
        seen = seen.__cause__ or seen.__context__
    return texts


@pytest.mark.parametrize(
    "planted", ["planted-Pa55word-4242", "planted-pässwörd-ü€-4242"], ids=["ascii", "non-ascii"]
)
def test_failed_login_hides_password(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
    capfd: pytest.CaptureFixture[str],
    certificate: tuple[Path, Path],
    planted: str,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("SMTP_USER", USER)
    monkeypatch.setenv("SMTP_PASS", planted)
    auth_blob = base64.b64encode(f"\0{USER}\0{planted}".encode()).decode()

    with _running(
        tmp_path / "outbox",
        starttls_context=_server_context(certificate),
        credentials=(USER, "the-server-expects-another-password"),
    ) as server:
        smtp = _resource(server, "starttls", login=True, ca_file=str(certificate[0]))
        with pytest.raises(SMTPDeliveryError) as caught:
            smtp.send(build_email(_alert()))

        assert server.received == []

    message = str(caught.value)
    assert "rejected the login with 535" in message
    assert "Check SMTP_USER and SMTP_PASS" in message
    visible_texts = [
        *_exception_texts(caught.value),
        *(record.getMessage() for record in caplog.records),
        *capfd.readouterr(),
    ]
    assert caplog.records, "the servers' log records were not captured"
    for text in visible_texts:
        assert planted not in text
        assert auth_blob not in text
