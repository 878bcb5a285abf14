"""Content checks on the generated article, run before anything is published.

Each check is a pure function of the completion and the limits, so the asset can report them as
blocking Dagster asset checks and tests can call them directly.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from blog_pipeline.language import guess_language
from blog_pipeline.prompts import LANGUAGES
from blog_pipeline.resources.openai_chat import ChatCompletion
from blog_pipeline.text import count_characters, count_words

# LinkedIn rejects posts over 3,000 characters, counted here as Unicode code points after NFC
# normalization.
LINKEDIN_CHARACTER_LIMIT = 3000

TEXT_NOT_EMPTY = "text_not_empty"
FINISHED_NORMALLY = "finished_normally"
FITS_CHANNEL_LIMIT = "fits_channel_limit"
WORD_COUNT_IN_BAND = "word_count_in_band"
LANGUAGE_MATCHES = "language_matches"

CHECK_NAMES = (
    TEXT_NOT_EMPTY,
    FINISHED_NORMALLY,
    FITS_CHANNEL_LIMIT,
    WORD_COUNT_IN_BAND,
    LANGUAGE_MATCHES,
)


@dataclass(frozen=True)
class CheckOutcome:
    name: str
    passed: bool
    description: str
    metadata: dict[str, Any] = field(default_factory=dict)


def run_checks(
    completion: ChatCompletion,
    *,
    language: str,
    target_words: int,
    word_tolerance: float,
    character_limit: int,
) -> list[CheckOutcome]:
    """Run every content check on ``completion`` and return one outcome per check."""
    text = completion.text
    return [
        check_not_empty(text),
        check_finished(completion),
        check_character_limit(text, character_limit),
        check_word_band(text, target_words, word_tolerance),
        check_language(text, language),
    ]


def check_not_empty(text: str) -> CheckOutcome:
    characters = count_characters(text.strip())
    return CheckOutcome(
        TEXT_NOT_EMPTY,
        characters > 0,
        "The article has text." if characters else "The model returned no text.",
        {"characters": characters},
    )


def check_finished(completion: ChatCompletion) -> CheckOutcome:
    reason = completion.finish_reason or "unknown"
    if completion.refusal:
        return CheckOutcome(
            FINISHED_NORMALLY,
            False,
            f"The model refused: {completion.refusal}",
            {"finish_reason": reason, "refusal": completion.refusal},
        )
    explanations = {
        "stop": "The model finished the article normally.",
        "length": "The model hit the token limit, so the article is cut off mid-text.",
        "content_filter": "OpenAI's content filter removed part of the article.",
    }
    return CheckOutcome(
        FINISHED_NORMALLY,
        reason == "stop",
        explanations.get(reason, f"The model stopped with finish reason {reason!r}."),
        {"finish_reason": reason},
    )


def check_character_limit(text: str, limit: int) -> CheckOutcome:
    characters = count_characters(text)
    passed = characters <= limit
    description = (
        f"{characters} characters, within the channel limit of {limit}."
        if passed
        else f"{characters} characters, {characters - limit} over the channel limit of {limit}."
    )
    return CheckOutcome(
        FITS_CHANNEL_LIMIT, passed, description, {"characters": characters, "limit": limit}
    )


def check_word_band(text: str, target: int, tolerance: float) -> CheckOutcome:
    words = count_words(text)
    low = round(target * (1 - tolerance))
    high = round(target * (1 + tolerance))
    passed = low <= words <= high
    return CheckOutcome(
        WORD_COUNT_IN_BAND,
        passed,
        f"{words} words, {'within' if passed else 'outside'} the band {low}-{high} around the "
        f"target of {target}.",
        {"words": words, "min_words": low, "max_words": high},
    )


def check_language(text: str, language: str) -> CheckOutcome:
    guess = guess_language(text)
    passed = guess.language == language
    name = LANGUAGES.get(language, language)
    description = (
        f"The text reads as {name}."
        if passed
        else f"The text does not read as {name}: best guess {guess.language or 'unknown'}."
    )
    metadata: dict[str, Any] = {"expected": language, "detected": guess.language or "unknown"}
    metadata.update({f"share_{lang}": share for lang, share in guess.shares.items()})
    return CheckOutcome(LANGUAGE_MATCHES, passed, description, metadata)
