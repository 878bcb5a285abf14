"""Counting of the article text the way the pipeline's checks and metadata count it."""

from __future__ import annotations

import re
import unicodedata

_WORD = re.compile(r"\w+(?:[-'’]\w+)*")


def normalize(text: str) -> str:
    """Return ``text`` in Unicode NFC, the form in which LinkedIn counts characters."""
    return unicodedata.normalize("NFC", text)


def count_characters(text: str) -> int:
    """Count Unicode code points after NFC normalization."""
    return len(normalize(text))


def count_words(text: str) -> int:
    """Count words: runs of letters or digits, joined by hyphens or apostrophes."""
    return len(_WORD.findall(text))
