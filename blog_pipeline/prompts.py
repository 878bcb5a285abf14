"""Prompt for the article and the run config that shapes it."""

from __future__ import annotations

from typing import Literal

import dagster as dg
from pydantic import Field

from blog_pipeline.errors import ConfigurationError

DEFAULT_TOPIC = "die Vorteile von Everything-as-Code"
DEFAULT_LANGUAGE = "de"
DEFAULT_TARGET_WORDS = 400
DEFAULT_WORD_TOLERANCE = 0.25
MIN_TARGET_WORDS = 50
MAX_TARGET_WORDS = 1500

# ISO 639-1 code -> language name as the instruction names it.
LANGUAGES = {
    "de": "Deutsch",
    "en": "English",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "nl": "Dutch",
}


class ArticleConfig(dg.Config):
    """Run config of the article: what to write about, in which language, how long."""

    topic: str = Field(default=DEFAULT_TOPIC, description="Subject of the article.")
    language: str = Field(
        default=DEFAULT_LANGUAGE, description=f"ISO 639-1 code, one of {', '.join(LANGUAGES)}."
    )
    target_words: int = Field(
        default=DEFAULT_TARGET_WORDS,
        description=f"Approximate length in words, {MIN_TARGET_WORDS} to {MAX_TARGET_WORDS}.",
    )
    prompt: str | None = Field(
        default=None,
        description="Full prompt that replaces the one built from topic, language and length.",
    )
    word_tolerance: float = Field(
        default=DEFAULT_WORD_TOLERANCE,
        description="Accepted deviation from target_words as a fraction; 0.25 means +-25 %.",
    )
    too_long_policy: Literal["shorten", "fail"] = Field(
        default="shorten",
        description="Over the channel's character limit: ask the model to shorten, or fail.",
    )
    max_shorten_attempts: int = Field(
        default=2, description="Requests to shorten a text that is still too long."
    )

    def build_prompt(self) -> str:
        """Return the prompt, after checking every field."""
        self._validate()
        if self.prompt is not None:
            return self.prompt.strip()
        if self.language == "de":
            return (
                f"Schreibe einen Blogartikel auf Deutsch mit etwa {self.target_words} Wörtern über "
                f"{self.topic.strip()}. Gib nur den Artikeltext als schlichte Absätze zurück, ohne "
                "Markdown, ohne Überschriftenzeichen und ohne Hashtags."
            )
        return (
            f"Write a blog article in {LANGUAGES[self.language]} of about {self.target_words} "
            f"words about {self.topic.strip()}. Return only the article text as plain paragraphs, "
            "without Markdown, heading marks or hashtags."
        )

    def max_tokens(self) -> int:
        # German averages about two tokens per word in OpenAI's tokenizers; three per word plus
        # a margin leaves room for a normal finish while still bounding a runaway answer.
        return self.target_words * 3 + 200

    def _validate(self) -> None:
        if self.language not in LANGUAGES:
            raise ConfigurationError(
                f"language {self.language!r} is not supported: use one of "
                f"{', '.join(LANGUAGES)} (ISO 639-1 codes) in the run config of blog_article."
            )
        if not MIN_TARGET_WORDS <= self.target_words <= MAX_TARGET_WORDS:
            raise ConfigurationError(
                f"target_words {self.target_words} is out of range: use {MIN_TARGET_WORDS} to "
                f"{MAX_TARGET_WORDS} in the run config of blog_article."
            )
        if self.prompt is not None and not self.prompt.strip():
            raise ConfigurationError(
                "prompt is empty: remove it from the run config to use the built-in prompt, or "
                "give the full instruction text."
            )
        if not 0 <= self.word_tolerance < 1:
            raise ConfigurationError(
                f"word_tolerance {self.word_tolerance} is out of range: use a fraction from 0 to "
                "below 1, for example 0.25 for +-25 %."
            )
        if not 0 <= self.max_shorten_attempts <= 5:
            raise ConfigurationError(
                f"max_shorten_attempts {self.max_shorten_attempts} is out of range: use 0 to 5."
            )
        if self.prompt is None and not self.topic.strip():
            raise ConfigurationError(
                "topic is empty: give a subject, e.g. 'Infrastructure as Code'."
            )


def shorten_request(language: str, limit: int) -> str:
    """Return the follow-up instruction that requests a shorter version of the last reply."""
    if language == "de":
        return (
            f"Der Artikel ist zu lang. Kürze ihn auf höchstens {limit} Zeichen einschließlich "
            "Leerzeichen, ohne den Sinn zu verändern. Gib nur den gekürzten Text zurück."
        )
    return (
        f"The article is too long. Shorten it to at most {limit} characters including spaces "
        "without changing its meaning. Return only the shortened text."
    )
