"""Japanese text processing for madoguchi: normalization, tokens, script detection."""

from nlp.lang import detect_script_language
from nlp.normalize import normalize
from nlp.tokenize import Token, content_words, tokens

__all__ = ["Token", "content_words", "detect_script_language", "normalize", "tokens"]
