"""FAQ data model, CSV validation, retrieval index, reply decision and evaluation."""

from faq.decide import Decision, decide
from faq.index import FaqIndex, Hit
from faq.model import LANGS, FaqEntry
from faq.synonyms import Synonyms

__all__ = ["LANGS", "Decision", "FaqEntry", "FaqIndex", "Hit", "Synonyms", "decide"]
