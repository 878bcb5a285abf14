"""Environment selection and the settings derived from it."""

from __future__ import annotations

import pytest

from blog_pipeline.environment import Environment, get_environment, load_settings
from blog_pipeline.errors import ConfigurationError

PROD = {
    "BLOG_PIPELINE_ENV": "prod",
    "SMTP_HOST": "smtp.example.com",
    "ALERT_EMAIL_FROM": "pipeline@example.com",
    "ALERT_EMAIL_TO": "ops@example.com, team@example.com",
    "BLOG_PIPELINE_IO_BUCKET": "acme-blog-pipeline",
}


def test_default_environment_is_sandbox() -> None:
    assert get_environment({}) == Environment.SANDBOX
    settings = load_settings({})
    assert settings.openai_base_url == "http://127.0.0.1:18401/v1"
    assert settings.smtp_security == "none"
    assert settings.openai_api_key_env_var == "SANDBOX_OPENAI_API_KEY"


def test_unknown_environment_names_value_and_choices() -> None:
    with pytest.raises(
        ConfigurationError, match="BLOG_PIPELINE_ENV='staging' is invalid.*sandbox, dev, prod"
    ):
        get_environment({"BLOG_PIPELINE_ENV": "staging"})


def test_prod_reads_real_services() -> None:
    settings = load_settings(PROD)

    assert settings.environment == Environment.PROD
    assert settings.openai_base_url is None
    assert settings.openai_api_key_env_var == "OPENAI_API_KEY"
    assert settings.buffer_channel_env_var == "BUFFER_CHANNEL_ID"
    assert settings.smtp_port == 465
    assert settings.smtp_security == "ssl"
    assert settings.alert_recipients == ["ops@example.com", "team@example.com"]


def test_dev_uses_test_channel_and_team_mailbox() -> None:
    settings = load_settings(
        {**PROD, "BLOG_PIPELINE_ENV": "dev", "ALERT_EMAIL_TO_DEV": "dev@example.com"}
    )

    assert settings.buffer_channel_env_var == "BUFFER_CHANNEL_ID_DEV"
    assert settings.alert_recipients == ["dev@example.com"]


def test_prod_without_smtp_host_names_variable() -> None:
    environ = {k: v for k, v in PROD.items() if k != "SMTP_HOST"}

    with pytest.raises(
        ConfigurationError, match="SMTP_HOST is not set.*SMTP_HOST=smtp.example.com"
    ):
        load_settings(environ)


@pytest.mark.parametrize("port", ["abc", "0", "70000", "-1"])
def test_invalid_port_names_variable(port: str) -> None:
    with pytest.raises(ConfigurationError, match=f"SMTP_PORT='{port}' is invalid"):
        load_settings({**PROD, "SMTP_PORT": port})


def test_invalid_smtp_security_lists_choices() -> None:
    with pytest.raises(
        ConfigurationError, match="SMTP_SECURITY='tls' is invalid.*ssl, starttls, none"
    ):
        load_settings({**PROD, "SMTP_SECURITY": "tls"})


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("OPENAI_BASE_URL", "127.0.0.1:18401"),
        ("BUFFER_BASE_URL", "http://127.0.0.1:notaport"),
        ("BUFFER_BASE_URL", "ftp://example.com"),
    ],
)
def test_invalid_base_url_names_variable(name: str, value: str) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}='{value}' is invalid"):
        load_settings({**PROD, name: value})


def test_plain_smtp_to_remote_host_is_rejected() -> None:
    with pytest.raises(ConfigurationError, match="SMTP_SECURITY=none is only allowed"):
        load_settings({**PROD, "SMTP_SECURITY": "none"})

    local = load_settings({**PROD, "SMTP_SECURITY": "none", "SMTP_HOST": "127.0.0.1"})
    assert local.smtp_security == "none"
