"""Turn raw user text into text a TTS voice reads aloud correctly.

Two stages:

1. Unicode cleanup (every language): compatibility normalisation, control and zero-width
   characters removed, quotes/dashes/whitespace made uniform, paragraph breaks kept as "\\n\\n".
2. Expansion to words: for English, ordered regex rules (symbols, dates, times, money, units,
   abbreviations, numbers); for other languages, plain numbers where num2words supports them.

Rules never raise: a rule that fails on some input is logged and skipped, so
:func:`normalize_text` returns a string for any input.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable

from voxserve.text import abbreviations
from voxserve.text.abbreviations import Rule
from voxserve.text.numbers import en as english_numbers
from voxserve.text.numbers.languages import base_language as rules_base
from voxserve.text.numbers.languages import rules_for
from voxserve.text.numbers.spelling import resolve_language, spell_decimal
from voxserve.text.tracked import TrackedText

logger = logging.getLogger(__name__)

_VULGAR_FRACTIONS = {
    "½": "1/2", "⅓": "1/3", "⅔": "2/3", "¼": "1/4", "¾": "3/4", "⅕": "1/5", "⅖": "2/5",
    "⅗": "3/5", "⅘": "4/5", "⅙": "1/6", "⅚": "5/6", "⅐": "1/7", "⅛": "1/8", "⅜": "3/8",
    "⅝": "5/8", "⅞": "7/8", "⅑": "1/9", "⅒": "1/10",
}  # fmt: skip
# Applied before NFKC, which would turn "½" into "1⁄2" and "²" into a bare "2".
_BEFORE_NFKC = str.maketrans(
    {char: f" {fraction} " for char, fraction in _VULGAR_FRACTIONS.items()}
    | {"´": "'", "`": "'", "¨": "", "¸": "", "˜": "", "™": "", "®": ""}
)
_SUPERSCRIPT_DIGITS = str.maketrans("⁰¹²³⁴⁵⁶⁷⁸⁹⁻", "0123456789-")
_SUPERSCRIPT_AFTER_NUMBER = re.compile(r"(?<=\d)⁻?[⁰¹²³⁴⁵⁶⁷⁸⁹]+")
_SQUARE_OR_CUBE = re.compile(r"(?:(?<=[^\W\d_])|(?<=\)))[²³](?![⁰¹²³⁴⁵⁶⁷⁸⁹])")
_OTHER_SUPERSCRIPTS = re.compile(r"[⁰¹²³⁴⁵⁶⁷⁸⁹⁻]+")

_LINE_BREAKS = str.maketrans({"\r": "\n", "\x85": "\n", "\u2028": "\n", "\u2029": "\n\n"})
_SPACES = re.compile(r"[^\S\n]+")
_PARAGRAPH_BREAK = re.compile(r"\n(?: *\n)+")
_PUNCTUATION = str.maketrans(
    {
        "“": '"', "”": '"', "„": '"', "‟": '"', "«": '"', "»": '"', "〝": '"', "〞": '"',
        "‘": "'", "’": "'", "‚": "'", "‛": "'", "‹": "'", "›": "'", "′": "'", "″": '"',
        "‐": "-", "‑": "-", "‒": "-", "−": "-", "―": "—", "⸺": "—", "⸻": "—",
    }
)  # fmt: skip
_EN_DASH_BETWEEN_NUMBERS = re.compile(r"(?<=\d) ?– ?(?=\d)")
_DOUBLE_HYPHEN = re.compile(r"(?<!-)-{2,3}(?!-)")


def _constant(spoken: str) -> Callable[[re.Match[str]], str]:
    """Replacement callback that always returns ``spoken``."""

    def replace(_match: re.Match[str]) -> str:
        return spoken

    return replace


def _literal_rules(table: tuple[tuple[str, str, tuple[str, ...]], ...]) -> tuple[Rule, ...]:
    """Rules replacing every match of a regex by fixed text: (regex, replacement, triggers)."""
    return tuple(
        Rule(re.compile(regex), _constant(spoken), triggers) for regex, spoken, triggers in table
    )


# Symbols and markup handled before numbers are expanded.
_SYMBOL_RULES = _literal_rules(
    (
        (r"[*_|\\]+", " ", ("*", "_", "|", "\\")),
        (r"~\s?(?=\d)", "about ", ("~",)),
        (r"~", " ", ("~",)),
        (r"[\[{]", "(", ("[", "{")),
        (r"[\]}]", ")", ("]", "}")),
        (r"#\s?(?=\d)", "number ", ("#",)),
        (r"#", "", ("#",)),
    )
)

# Operators and leftover symbols, after the rules that read "%", "+", ":" or "/" in context.
_OPERATOR_RULES = _literal_rules(
    (
        (r"\s?(?:<=|≤)\s?", " less than or equal to ", ("<=", "≤")),
        (r"\s?(?:>=|≥)\s?", " greater than or equal to ", (">=", "≥")),
        (r"\s?(?:!=|≠)\s?", " not equal to ", ("!=", "≠")),
        (r"\s?={1,2}\s?", " equals ", ("=",)),
        (r"\s?≈\s?", " approximately ", ("≈",)),
        (r"(?<=[\w)])\s?\+\s?(?=[\w(])|\s\+\s", " plus ", ("+",)),
        (r"\s?×\s?", " times ", ("×",)),
        (r"\s?÷\s?", " divided by ", ("÷",)),
        (r"\s<\s|<\s?(?=\d)", " less than ", ("<",)),
        (r"\s>\s|>\s?(?=\d)", " greater than ", (">",)),
        (r"[<>]", " ", ("<", ">")),
        (r"\s?&\s?", " and ", ("&",)),
        (r"(?<!\w)@(?=\w)|\s@\s", " at ", ("@",)),
        (r"\s?%", " percent", ("%",)),
        (r"(?<=\d):(?=\d\d(?!\d))", " ", (":",)),  # durations such as 25:30
        (r"(?<=\d):(?=\d)", " to ", (":",)),  # ratios and scores such as 16:9
        (r"\band/or\b", "and or", ("and/or",)),
    )
)

# Spacing and punctuation left untidy by the expansions.
_TIDY_RULES = _literal_rules(
    (
        (r" {2,}", " ", ("  ",)),
        (r" +(?=[,.;:!?)])", "", (" ,", " .", " ;", " :", " !", " ?", " )")),
        (r"(?<=\() +", "", ("( ",)),
        (r",(?: ?,)+", ",", (",",)),
        (r", ?(?=[.!?;:])", "", (",",)),
        (r",(?=[^\W\d_])", ", ", (",",)),
    )
)


def _email(match: re.Match[str]) -> str:
    """Read an email address: "jo.doe@example.com" -> "jo dot doe at example dot com"."""
    user, domain = match["user"].replace(".", " dot "), match["domain"].replace(".", " dot ")
    return f"{user} at {domain}"


def _url(match: re.Match[str]) -> str:
    """Read a web address: "https://www.example.com/docs" -> "example dot com slash docs"."""
    spoken = match["host"].replace(".", " dot ")
    path = [part for part in (match["path"] or "").split("/") if part]
    return " slash ".join([spoken, *path])


_TOP_LEVEL_DOMAINS = ("com", "org", "net", "edu", "gov", "io", "ai", "dev", "app", "co", "uk", "de")
_WEB_RULES = (
    Rule(
        re.compile(r"(?<![\w.+-])(?P<user>[\w.+-]+)@(?P<domain>[\w-]+(?:\.[\w-]+)+)"),
        _email,
        ("@",),
    ),
    Rule(
        re.compile(
            r"(?:\bhttps?://)?(?:\bwww\.)?\b(?P<host>[\w-]+(?:\.[\w-]+)*"
            rf"\.(?:{'|'.join(_TOP_LEVEL_DOMAINS)}))\b"
            r"(?P<path>(?:/[\w-]+)*/?)(?:[?#][\w=&%.-]*)?"
        ),
        _url,
        tuple(f".{domain}" for domain in _TOP_LEVEL_DOMAINS),
    ),
)

# English rule tables in order, each flagged True when it only matches text with digits
# (no rule creates digits, so one check per paragraph tells which tables can be skipped).
_ENGLISH_STAGES: tuple[tuple[bool, tuple[Rule, ...]], ...] = (
    (False, _WEB_RULES),
    (False, _SYMBOL_RULES),
    (True, english_numbers.EXPRESSION_RULES),
    (False, abbreviations.RULES),
    (False, _OPERATOR_RULES),
    (True, english_numbers.NUMBER_RULES),
)
_DIGIT = re.compile(r"\d")

# Languages that write "3.5"; the rest of num2words' languages write "3,5" and group with ".".
_DOT_DECIMAL_LANGUAGES = frozenset({"am", "ar", "bn", "cy", "he", "ja", "kn", "ko", "te", "th"})


def normalize_text(text: str, language: str = "en") -> str:
    """Clean ``text`` and expand numbers/abbreviations/symbols into words for ``language``.

    Paragraph breaks are kept as "\\n\\n"; every other run of whitespace becomes one space.
    Never raises, and the result contains no control or zero-width characters.
    """
    return "\n\n".join(p.text for p in normalize_tracked(TrackedText.of(text), language))


def normalize_tracked(text: TrackedText, language: str = "en") -> list[TrackedText]:
    """:func:`normalize_text` of ``text``, tracked: its non-empty paragraphs, each expanded,
    every character still knowing the source range it says (see :mod:`.tracked`)."""
    expanded = (_expand(paragraph, language) for paragraph in _clean_paragraphs(text, language))
    return [paragraph for paragraph in expanded if paragraph.text]


# A non-ASCII character (with the combining marks after it) that NFKC may change; "º" and
# "ª" stay (ordinal indicators in Spanish, Portuguese and Italian).
_NON_ASCII = re.compile(r"[^\x00-\x7fºª][\u0300-\u036f\u064b-\u065f\u0670\u1ab0-\u1aff"
                        r"\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]*")
_CRLF = re.compile(r"\r\n")
_ANY_SPACE = re.compile(r"\s+")
_EN_DASH = re.compile("–")


def _nfkc(match: re.Match[str]) -> str:
    return unicodedata.normalize("NFKC", match.group(0))


#: Languages whose spelling uses the zero-width non-joiner ("می‌خواهم"): it is kept there.
_ZWNJ_LANGUAGES = frozenset({"fa", "ur", "ps", "ckb", "ku"})


def _clean_paragraphs(text: TrackedText, language: str = "en") -> list[TrackedText]:
    """Language-independent cleanup (NFKC, no control chars, plain quotes/dashes), by paragraph.

    Each paragraph comes back on one line with single spaces; empty paragraphs are dropped.
    """
    text = _superscripts(text.translate(_BEFORE_NFKC))
    if not text.text.isascii():
        text = text.sub(_NON_ASCII, _nfkc)
    text = text.sub(_CRLF, "\n").translate(_LINE_BREAKS)
    text = text.sub(_SPACES, " ")
    if not text.text.isprintable():
        keep = "\u200c" if rules_base(language) in _ZWNJ_LANGUAGES else ""
        text = _printable(text, keep)
    text = text.translate(_PUNCTUATION)
    text = text.sub(_EN_DASH_BETWEEN_NUMBERS, "-").sub(_EN_DASH, "—")
    text = text.sub(_DOUBLE_HYPHEN, "—")
    paragraphs = (p.sub(_ANY_SPACE, " ").strip() for p in text.split(_PARAGRAPH_BREAK))
    return [paragraph for paragraph in paragraphs if paragraph.text]


def _printable(text: TrackedText, also: str = "") -> TrackedText:
    """``text`` without the characters that are not printable (newlines and ``also`` stay)."""
    keep = [i for i, char in enumerate(text.text)
            if char.isprintable() or char == "\n" or char in also]
    return TrackedText(
        "".join(text.text[i] for i in keep),
        tuple(text.starts[i] for i in keep),
        tuple(text.ends[i] for i in keep),
    )


def _superscripts(text: TrackedText) -> TrackedText:
    """Write superscripts as powers ("10⁶" -> "10^6", "m²" -> "m^2"); drop footnote marks."""
    if not _OTHER_SUPERSCRIPTS.search(text.text):
        return text
    text = text.sub(
        _SUPERSCRIPT_AFTER_NUMBER, lambda m: "^" + m.group(0).translate(_SUPERSCRIPT_DIGITS)
    )
    text = text.sub(_SQUARE_OR_CUBE, lambda m: "^" + m.group(0).translate(_SUPERSCRIPT_DIGITS))
    return text.sub(_OTHER_SUPERSCRIPTS, "")


_CARET = re.compile(r"\^")


def _expand(paragraph: TrackedText, language: str) -> TrackedText:
    """Expand one paragraph (no newlines) into words for ``language`` and tidy punctuation.

    English has its own rule tables; German, Spanish, French, Portuguese, Italian and
    Persian theirs (:mod:`voxserve.text.numbers.languages`); any other language gets only
    its numbers spelled, if num2words knows it (espeak reads the rest), never English rules.
    """
    if _is_english(language):
        paragraph = _expand_english(_ascii_digits(paragraph))
    elif (rules := rules_for(language)) is not None:
        paragraph = _apply(rules, paragraph.sub(_CARET, " "))
    else:
        paragraph = _expand_numbers(paragraph.sub(_CARET, " "), language)
    return _apply(_TIDY_RULES, paragraph).strip()


def _expand_english(paragraph: TrackedText) -> TrackedText:
    """Run the English rule tables over one paragraph."""
    has_digits = _DIGIT.search(paragraph.text) is not None
    for needs_digits, rules in _ENGLISH_STAGES:
        if has_digits or not needs_digits:
            paragraph = _apply(rules, paragraph)
    return paragraph


def _is_english(language: str) -> bool:
    """True for "en", "en-US", "EN_gb" ..."""
    return language.strip().lower().replace("_", "-").split("-")[0] == "en"


def _expand_numbers(paragraph: TrackedText, language: str) -> TrackedText:
    """Spell plain numbers in a language without rules of its own, if num2words knows it."""
    lang = resolve_language(language)
    if lang is None:
        return paragraph
    decimal, group = (".", ",") if lang.split("_")[0] in _DOT_DECIMAL_LANGUAGES else (",", ".")

    def spell(match: re.Match[str]) -> str:
        digits = match["int"].replace(group, "")
        return spell_decimal(digits, match["frac"], lang) or match.group(0)

    return _apply((Rule(_NUMBER_PATTERNS[decimal], spell),), paragraph)


def _number_pattern(decimal: str, group: str) -> re.Pattern[str]:
    """Regex for a number with the given decimal and thousands separators."""
    d, g = re.escape(decimal), re.escape(group)
    return re.compile(
        rf"(?<![\w.,])(?P<int>\d{{1,3}}(?:{g}\d{{3}})+(?!\d)|\d+)(?:{d}(?P<frac>\d+))?"
    )


_NUMBER_PATTERNS = {".": _number_pattern(".", ","), ",": _number_pattern(",", ".")}


_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def _ascii_digits(text: TrackedText) -> TrackedText:
    """Map other scripts' decimal digits ("٣") to ASCII so the English rules see them."""
    if text.text.isascii():
        return text
    return text.sub(_OTHER_DIGIT, lambda match: str(unicodedata.digit(match.group(0))))


def _apply(rules: tuple[Rule, ...], text: TrackedText) -> TrackedText:
    """Apply ``rules`` in order; a rule that raises is logged and skipped, never propagated."""
    for rule in rules:
        if not rule.may_match(text.text):
            continue
        try:
            text = text.sub(rule.pattern, rule.replace)
        except Exception:
            logger.warning("text rule %r failed; skipped", rule.pattern.pattern, exc_info=True)
    return text
