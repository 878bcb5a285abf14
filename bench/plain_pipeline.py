"""daily_blogpost as a plain Python script: the baseline of the end-to-end benchmark.

It sends the requests of the job's first run of the day, with the same client libraries: a
chat completion through the openai SDK, then createPost on Buffer's GraphQL API through httpx.
Then it logs the post id. Only when a request fails does it send an alert e-mail through
smtplib, as the job's failure sensor does. It reads the code location's environment through
blog_pipeline.environment, which imports no Dagster, so both target the same servers.

    python bench/plain_pipeline.py     # exit status 0 on success, 1 after a failure alert
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import smtplib
import sys
from email.message import EmailMessage
from zoneinfo import ZoneInfo

import httpx
import openai

from blog_pipeline.environment import Settings, load_settings

log = logging.getLogger("plain_pipeline")

# The prompt that ArticleConfig.build_prompt() builds from its defaults.
PROMPT = (
    "Schreibe einen Blogartikel auf Deutsch mit etwa 400 Wörtern über die Vorteile von "
    "Everything-as-Code. Gib nur den Artikeltext als schlichte Absätze zurück, ohne Markdown, "
    "ohne Überschriftenzeichen und ohne Hashtags."
)
MAX_TOKENS = 400 * 3 + 200
# The same timeouts and retries as the project's resources.
OPENAI_TIMEOUT_SECONDS = 60.0
OPENAI_MAX_RETRIES = 2
BUFFER_TIMEOUT_SECONDS = 30.0
SMTP_TIMEOUT_SECONDS = 20.0

CREATE_POST_MUTATION = """
mutation CreatePost($input: CreatePostInput!) {
  createPost(input: $input) {
    __typename
    ... on PostActionSuccess { post { id text dueAt } }
    ... on MutationError { message }
  }
}
""".strip()


def generate(settings: Settings) -> str:
    client = openai.OpenAI(
        api_key=os.environ[settings.openai_api_key_env_var],
        base_url=settings.openai_base_url,
        timeout=OPENAI_TIMEOUT_SECONDS,
        max_retries=OPENAI_MAX_RETRIES,
    )

    with client:
        completion = client.chat.completions.create(
            model=settings.openai_model,
            messages=[{"role": "user", "content": PROMPT}],
            max_tokens=MAX_TOKENS,
        )

    return completion.choices[0].message.content or ""


def queue(settings: Settings, text: str) -> str:
    """Queue ``text`` on Buffer and return the post id; raises RuntimeError without one."""
    variables = {
        "input": {
            "text": text,
            "channelId": os.environ[settings.buffer_channel_env_var],
            "schedulingType": "automatic",
            "mode": "addToQueue",
        }
    }
    headers = {"Authorization": f"Bearer {os.environ[settings.buffer_token_env_var]}"}
    url = settings.buffer_base_url or "https://api.buffer.com"
    with httpx.Client(timeout=BUFFER_TIMEOUT_SECONDS, headers=headers, trust_env=False) as client:
        response = client.post(url, json={"query": CREATE_POST_MUTATION, "variables": variables})
    body = response.json()

    result = (body.get("data") or {}).get("createPost") or {}
    post = result.get("post") or {}
    if response.status_code != 200 or body.get("errors") or not post.get("id"):
        raise RuntimeError(f"Buffer did not create the post: HTTP {response.status_code} {body}")
    return str(post["id"])


def send_alert(settings: Settings, error: Exception) -> None:
    message = EmailMessage()
    message["Subject"] = f"[blog-pipeline {settings.environment.value}] plain pipeline failed"
    message["From"] = settings.alert_sender
    message["To"] = ", ".join(settings.alert_recipients)
    message.set_content(f"The plain pipeline failed: {type(error).__name__}: {error}\n")

    if settings.smtp_security == "ssl":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=SMTP_TIMEOUT_SECONDS)
        if settings.smtp_security == "starttls":
            client.starttls()
    with client:
        if settings.smtp_username_env_var and settings.smtp_password_env_var:
            client.login(
                os.environ[settings.smtp_username_env_var],
                os.environ[settings.smtp_password_env_var],
            )
        client.send_message(message)


def main() -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # As in the project's resources: the client libraries log every request URL at INFO.
    for name in ("openai", "httpx", "httpx2", "httpcore"):
        logging.getLogger(name).setLevel(logging.WARNING)
    settings = load_settings()
    try:
        text = generate(settings)
        log.info("Received %d words", len(text.split()))

        post_id = queue(settings, text)
        date = dt.datetime.now(ZoneInfo("Europe/Berlin")).date().isoformat()
        log.info("Blog post scheduled: Buffer post %s for %s", post_id, date)
        return 0
    except Exception as exc:  # every failure is alerted, as the failure sensor does for the job
        log.error("Plain pipeline failed: %s: %s", type(exc).__name__, exc)
        send_alert(settings, exc)
        return 1


if __name__ == "__main__":
    sys.exit(main())
