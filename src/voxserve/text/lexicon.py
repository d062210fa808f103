"""Pronunciation lexicons: a word as written -> an alias to say instead, or IPA phonemes.

Two file formats, loaded from ``<models dir>/lexicons/``: ``global.{tsv,pls}`` for every
voice and ``<voice id>.{tsv,pls}`` for one voice (its entries win).

- TSV: one entry a line, ``grapheme<TAB>alias`` or ``grapheme<TAB>/ipa/`` (phonemes between
  slashes); ``#`` starts a comment line.
- PLS (W3C Pronunciation Lexicon 1.0): ``<lexeme>`` with ``<grapheme>`` and ``<alias>`` or
  ``<phoneme>`` (alphabet ipa), parsed with defusedxml.

A lexicon is applied to the user's text before normalization, whole words only, case as
written. Its ``version`` (a digest of the entries) is part of every segment cache key, so a
changed lexicon never serves audio spoken with the old one.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from functools import cached_property

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import ParseError, fromstring

from voxserve.errors import InvalidLexicon

_PLS_NS = "{http://www.w3.org/2005/01/pronunciation-lexicon}"
MAX_ENTRIES = 10_000
MAX_GRAPHEME_CHARS = 100


@dataclass(frozen=True, slots=True)
class LexiconEntry:
    grapheme: str
    #: what to say instead (plain words), or None
    alias: str | None = None
    #: IPA phonemes, or None
    phonemes: str | None = None


@dataclass(frozen=True)
class Lexicon:
    """Entries by grapheme (later entries of the same grapheme win)."""

    entries: tuple[LexiconEntry, ...] = ()

    @cached_property
    def by_grapheme(self) -> dict[str, LexiconEntry]:
        return {entry.grapheme: entry for entry in self.entries}

    @cached_property
    def version(self) -> str:
        """A digest of the entries ("" for an empty lexicon): part of cache keys."""
        if not self.entries:
            return ""
        digest = hashlib.sha256()
        for grapheme, entry in sorted(self.by_grapheme.items()):
            digest.update(f"{grapheme}\t{entry.alias}\t{entry.phonemes}\n".encode())
        return digest.hexdigest()[:16]

    @cached_property
    def pattern(self) -> re.Pattern[str] | None:
        """Whole-word matches of any grapheme, longest first (None when empty)."""
        if not self.entries:
            return None
        words = sorted(self.by_grapheme, key=len, reverse=True)
        return re.compile(r"(?<!\w)(?:" + "|".join(map(re.escape, words)) + r")(?!\w)")

    def merged(self, other: Lexicon) -> Lexicon:
        """This lexicon with ``other``'s entries added (``other`` wins)."""
        if not other.entries:
            return self
        if not self.entries:
            return other
        return Lexicon(self.entries + other.entries)


def parse_tsv(text: str) -> Lexicon:
    """A TSV lexicon (see the module doc); raises :class:`InvalidLexicon`."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        grapheme, tab, said = line.partition("\t")
        grapheme, said = grapheme.strip(), said.strip()
        if not tab or not grapheme or not said:
            raise InvalidLexicon(f"lexicon line {number}: expected 'word<TAB>alias or /ipa/'")
        if said.startswith("/") and said.endswith("/") and len(said) > 2:
            entries.append(_entry(grapheme, None, said[1:-1]))
        else:
            entries.append(_entry(grapheme, said, None))
    return _checked(entries)


def parse_pls(text: str) -> Lexicon:
    """A PLS lexicon (see the module doc); raises :class:`InvalidLexicon`."""
    try:
        root = fromstring(text.encode("utf-8"), forbid_dtd=True)
    except (ParseError, DefusedXmlException) as exc:
        raise InvalidLexicon(f"lexicon is not valid PLS: {exc}") from None
    if root.tag.removeprefix(_PLS_NS) != "lexicon":
        raise InvalidLexicon("a PLS lexicon's root element is <lexicon>")
    alphabet = root.get("alphabet", "ipa")
    entries = []
    for lexeme in root:
        if lexeme.tag.removeprefix(_PLS_NS) != "lexeme":
            continue
        graphemes = [g.text.strip() for g in lexeme if g.tag == f"{_PLS_NS}grapheme" and g.text]
        alias = next((a.text.strip() for a in lexeme if a.tag == f"{_PLS_NS}alias" and a.text),
                     None)
        phoneme = next((p for p in lexeme if p.tag == f"{_PLS_NS}phoneme" and p.text), None)
        phonemes = None
        if phoneme is not None and phoneme.text:
            if phoneme.get("alphabet", alphabet) != "ipa":
                raise InvalidLexicon("only the ipa alphabet is supported in lexicons")
            phonemes = phoneme.text.strip()
        if not graphemes or not (alias or phonemes):
            raise InvalidLexicon("every lexeme needs a grapheme and an alias or a phoneme")
        entries += [_entry(grapheme, alias, phonemes) for grapheme in graphemes]
    return _checked(entries)


def parse_lexicon(text: str, fmt: str) -> Lexicon:
    """Parse a lexicon file of format ``tsv`` or ``pls``."""
    if fmt == "tsv":
        return parse_tsv(text)
    if fmt == "pls":
        return parse_pls(text)
    raise InvalidLexicon(f"unknown lexicon format {fmt!r} (tsv or pls)")


def _entry(grapheme: str, alias: str | None, phonemes: str | None) -> LexiconEntry:
    if len(grapheme) > MAX_GRAPHEME_CHARS:
        raise InvalidLexicon(f"a grapheme is at most {MAX_GRAPHEME_CHARS} characters")
    if phonemes is not None and ("[" in phonemes or "]" in phonemes):
        raise InvalidLexicon("phonemes may not contain '[' or ']'")
    return LexiconEntry(grapheme, alias, phonemes)


def _checked(entries: list[LexiconEntry]) -> Lexicon:
    if len(entries) > MAX_ENTRIES:
        raise InvalidLexicon(f"a lexicon holds at most {MAX_ENTRIES} entries")
    return Lexicon(tuple(entries))
