"""Japanese text processing for madoguchi: normalization, tokens (language detection: nlp.language)."""

from nlp.normalize import normalize
from nlp.tokenize import Token, content_words, tokens

__all__ = ["Token", "content_words", "normalize", "tokens"]
