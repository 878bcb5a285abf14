"""A small language guess from function words, enough to tell a German article from another.

Function words (articles, pronouns, conjunctions) make up a large share of any running text and
differ between languages, so their share per language separates German from English, French,
Spanish, Italian and Dutch for texts of a few hundred words. It is an estimate, not a language
model: short or mixed texts can be misjudged, which is why the check reports the shares it saw.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

FUNCTION_WORDS = {
    "de": "der die das und ist nicht mit sich auf für ein eine einen dem den des im zu von "
    "auch es wird werden sind dass wie bei oder aus nach wir sie noch nur",
    "en": "the and is not with on for a an of to in it that are as be this by or from "
    "was were which we they can will has have",
    "fr": "le la les et est pas avec sur pour un une des du de dans qui que sont ce cette "
    "nous vous il elle ou par plus",
    "es": "el la los las y es no con en para un una del de que se por como más pero "
    "este esta son lo al",
    "it": "il la le gli e è non con su per un una del della di che si come più ma "
    "questo questa sono nel al",
    "nl": "de het een en is niet met op voor van dat die zijn ook als bij of uit naar "
    "wij ze nog maar wordt",
}
_VOCABULARY = {lang: set(words.split()) for lang, words in FUNCTION_WORDS.items()}
_WORD = re.compile(r"[^\W\d_]+")

# Share of all words that must be function words of the winning language. The sandbox's German
# article scores 0.29 for German and 0.04 for English with the lists above; the threshold is an
# estimate with room below that.
MIN_SHARE = 0.12


@dataclass(frozen=True)
class LanguageGuess:
    language: str | None
    shares: dict[str, float]
    words: int


def guess_language(text: str) -> LanguageGuess:
    """Guess the language of ``text`` from its share of function words per language."""
    words = [w.lower() for w in _WORD.findall(text)]
    if not words:
        return LanguageGuess(None, {lang: 0.0 for lang in _VOCABULARY}, 0)
    shares = {
        lang: round(sum(w in vocabulary for w in words) / len(words), 3)
        for lang, vocabulary in _VOCABULARY.items()
    }
    best = max(shares, key=lambda lang: shares[lang])
    return LanguageGuess(best if shares[best] >= MIN_SHARE else None, shares, len(words))
