"""Which rule table reads a language: English, the table-driven languages, or none."""

from __future__ import annotations

import importlib
from functools import cache

from voxserve.text.abbreviations import Rule
from voxserve.text.numbers.locale import LanguageSpec

#: Languages with rules of their own (beside English, in :mod:`voxserve.text.numbers.en`).
TABLE_LANGUAGES = ("de", "es", "fr", "pt", "it", "fa")


def base_language(language: str) -> str:
    """"de_DE" / "pt-BR" / "EN" -> "de" / "pt" / "en"."""
    return language.strip().lower().replace("_", "-").split("-")[0]


@cache
def rules_for(language: str) -> tuple[Rule, ...] | None:
    """The rules of a table-driven language, or None (English and unknown languages)."""
    base = base_language(language)
    if base not in TABLE_LANGUAGES:
        return None
    module = importlib.import_module(f"voxserve.text.numbers.{base}")
    rules: tuple[Rule, ...] = module.RULES
    return rules


def spec_for(language: str) -> LanguageSpec | None:
    """The :class:`LanguageSpec` of a table-driven language, or None."""
    base = base_language(language)
    if base not in TABLE_LANGUAGES:
        return None
    spec: LanguageSpec = importlib.import_module(f"voxserve.text.numbers.{base}").SPEC
    return spec
