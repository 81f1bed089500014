"""Deterministic offline text understanding: constraints, answers, questions and feedback.

Everything here is rule based: precompiled regular expressions and ordered tables, no
randomness, no clock and no set iteration, so the same input always gives the same output.

Readers return ``(value, phrase)`` where ``phrase`` is the part of the text the value was
read from; :func:`extract` reports those phrases as evidence.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from enum import Enum
from typing import Any

from pydantic import BaseModel

from agentic_mlops.domain import (
    ANSWERABLE_FIELDS,
    Budget,
    ConstraintChange,
    ConstraintSchema,
    DataSensitivity,
    DeploymentMode,
    FeedbackResult,
    Question,
    Residency,
)
from agentic_mlops.domain.services import RESIDENCY_AREAS, RESIDENCY_REGIONS
from agentic_mlops.providers.base import InvalidAnswer

__all__ = [
    "CURRENCY_TO_USD",
    "PERIOD_TO_MONTHLY",
    "apply_feedback",
    "extract",
    "parse_answer",
    "questions_for",
]

Found = tuple[Any, str]
"""A value read from text and the phrase it was read from."""

CURRENCY_TO_USD: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.27,
    "CAD": 0.73,
    "AUD": 0.66,
    "JPY": 0.0067,
    "INR": 0.012,
}
"""Fixed conversion rates (US dollars per unit of currency); offline runs never look rates up."""

PERIOD_TO_MONTHLY: dict[str, float] = {
    "hour": 730.0,
    "day": 365 / 12,
    "week": 52 / 12,
    "month": 1.0,
    "quarter": 1 / 3,
    "year": 1 / 12,
}
"""Multiplier turning an amount per period into an amount per month (730 hours a month)."""

SUMMARY_MAX_CHARS = 120
PROBLEM_TYPES: tuple[str, ...] = (
    "classification",
    "regression",
    "forecasting",
    "recommendation",
    "nlp",
    "computer_vision",
    "llm_fine_tuning",
    "anomaly_detection",
)
CADENCES: tuple[str, ...] = ("hourly", "daily", "weekly", "monthly", "quarterly", "on_demand")

# --------------------------------------------------------------------------- vocabularies


class _Vocab:
    """An ordered table of ``(id, pattern)`` compiled into one alternation.

    Patterns must use non-capturing groups only; the entry that matched is found from
    the name of the wrapping group. Earlier entries win when two match at one position.
    """

    def __init__(self, entries: Sequence[tuple[str, str]], flags: int = re.IGNORECASE) -> None:
        self.ids = tuple(entry_id for entry_id, _ in entries)
        alternation = "|".join(f"(?P<v{i}>{pattern})" for i, (_, pattern) in enumerate(entries))
        self.regex = re.compile(rf"(?<!\w)(?:{alternation})(?!\w)", flags)

    def finditer(self, text: str) -> Iterator[tuple[str, re.Match[str]]]:
        """Yield ``(id, match)`` for every match, left to right."""
        for match in self.regex.finditer(text):
            yield self.ids[int(str(match.lastgroup)[1:])], match

    def ids_in(self, text: str) -> list[str]:
        """Return the distinct ids found in ``text``, in order of first appearance."""
        return list(dict.fromkeys(entry_id for entry_id, _ in self.finditer(text)))


_REGION_NAMES = _Vocab(
    (
        ("eu-central-1", r"Frankfurt|Germany"),
        ("eu-central-2", r"Z[uü]rich|Switzerland"),
        ("eu-west-1", r"Ireland|Dublin"),
        ("eu-west-2", r"London"),
        ("eu-west-3", r"Paris|France"),
        ("eu-north-1", r"Stockholm|Sweden"),
        ("eu-south-1", r"Milan|Italy"),
        ("eu-south-2", r"Spain|Madrid"),
        ("us-east-1", r"N\.\s?Virginia|Northern Virginia|Virginia"),
        ("us-east-2", r"Ohio"),
        ("us-west-1", r"N\.\s?California|Northern California|California"),
        ("us-west-2", r"Oregon"),
        ("ca-central-1", r"Montr[eé]al|Canada(?:\s+Central)?"),
        ("ca-west-1", r"Calgary"),
        ("ap-northeast-1", r"Tokyo|Japan"),
        ("ap-northeast-2", r"Seoul|Korea"),
        ("ap-southeast-1", r"Singapore"),
        ("ap-southeast-2", r"Sydney|Australia"),
        ("ap-south-1", r"Mumbai|India"),
        ("ap-east-1", r"Hong\s+Kong"),
        ("sa-east-1", r"S[aã]o\s+Paulo|Brazil"),
        ("me-central-1", r"(?-i:UAE)|Dubai|Abu\s+Dhabi"),
        ("af-south-1", r"Cape\s+Town|South\s+Africa"),
    )
)
"""Common names of AWS regions (cities and countries) -> region code."""

_REGION_EXAMPLES: dict[str, tuple[str, ...]] = {
    "eu": ("eu-west-1", "eu-central-1", "Frankfurt"),
    "us": ("us-east-1", "us-west-2", "Oregon"),
    "uk": ("eu-west-2", "London"),
    "ca": ("ca-central-1", "Montreal"),
    "apac": ("ap-southeast-1", "ap-northeast-1", "Sydney"),
    **{
        area: regions
        for area, regions in RESIDENCY_REGIONS.items()
        if area not in ("eu", "us", "uk", "ca", "apac")
    },
}
"""Region answer examples per residency area; each parses to a region of that area."""

_AREA_PATTERNS: tuple[tuple[str, str], ...] = (
    ("eu", r"(?-i:EU|E\.U\.|EEA)|European\s+Union|European\s+Economic\s+Area|Europe"),
    (
        "uk",
        r"(?-i:UK|U\.K\.)|United\s+Kingdom|Great\s+Britain|Britain|England|Scotland|Wales"
        r"|London",
    ),
    (
        "us",
        r"(?-i:USA|US|U\.S\.A\.|U\.S\.)|United\s+States(?:\s+of\s+America)?|California"
        r"|Oregon|Virginia|Ohio|Texas|New\s+York|Florida|Illinois|Massachusetts"
        r"|Washington\s+State",
    ),
    (
        "ca",
        r"Canada|Qu[eé]bec|Ontario|Alberta|British\s+Columbia|Toronto|Montr[eé]al|Calgary"
        r"|Vancouver",
    ),
    ("de", r"Germany|Frankfurt|Berlin|Munich|Bavaria"),
    ("ch", r"Switzerland|Z[uü]rich|Geneva"),
    ("ie", r"Ireland|Dublin"),
    ("fr", r"France|Paris"),
    ("se", r"Sweden|Stockholm"),
    ("it", r"Italy|Milan|Rome"),
    ("es", r"Spain|Madrid|Barcelona"),
    ("jp", r"Japan|Tokyo|Osaka"),
    ("kr", r"South\s+Korea|Korea|Seoul"),
    ("sg", r"Singapore"),
    ("au", r"Australia|Sydney|Melbourne"),
    ("in", r"India|Mumbai|Delhi|Bangalore|Bengaluru|Hyderabad"),
    ("hk", r"Hong\s+Kong"),
    ("br", r"Brazil|S[aã]o\s+Paulo"),
    ("ae", r"(?-i:UAE)|United\s+Arab\s+Emirates|Dubai|Abu\s+Dhabi"),
    ("za", r"South\s+Africa|Cape\s+Town|Johannesburg"),
    ("apac", r"(?-i:APAC)|Asia[- ]Pacific|Asia"),
)
"""Residency areas by name: economic areas, countries, and their states and cities; a
country (or a place in it) means that country's regions."""
_AREA = "(?:the\\s+)?(?:" + "|".join(f"(?P<{k}>{p})" for k, p in _AREA_PATTERNS) + r")(?!\w)"
_AREA_ANSWER = _Vocab(
    (
        *((key, pattern.replace("(?-i:", "(?:")) for key, pattern in _AREA_PATTERNS),
        ("eu", r"eu|european"),
        ("ca", r"ca|canadian"),
    )
)
_AREA_NAMES: dict[str, str] = {
    "eu": "EU",
    "uk": "UK",
    "us": "US",
    "ca": "Canada",
    "apac": "Asia-Pacific",
    "de": "Germany",
    "ch": "Switzerland",
    "ie": "Ireland",
    "fr": "France",
    "se": "Sweden",
    "it": "Italy",
    "es": "Spain",
    "jp": "Japan",
    "kr": "South Korea",
    "sg": "Singapore",
    "au": "Australia",
    "in": "India",
    "hk": "Hong Kong",
    "br": "Brazil",
    "ae": "the UAE",
    "za": "South Africa",
}

_RESIDENCY_RES: tuple[re.Pattern[str], ...] = tuple(
    re.compile(pattern.replace("{A}", _AREA), re.IGNORECASE)
    for pattern in (
        r"(?<!\w){A}(?:[\s-]+regions?)?[\s-]*only\b",
        r"\bonly\s+(?:(?:with)?in\s+|inside\s+)?{A}(?:[\s-]+regions?)?",
        r"\b(?:stays?|remains?|resides?|kept|keep|stored|store|hosted|host|processed|lives?)"
        r"\s+(?:(?:with)?in|inside)\s+{A}",
        r"\bmust\s+be\s+(?:stored\s+|kept\s+|hosted\s+)?(?:(?:with)?in|inside)\s+{A}",
        r"\b(?:within|inside)\s+{A}",
        r"(?<!\w){A}[\s-]+(?:data[\s-]+)?(?:residency|resident|sovereignty|sovereign)\b",
        r"\b(?:residency|sovereignty)\s*(?:in|within|:|=|for|requirements?\s+(?:in|for))\s*{A}",
        r"\b(?:not|never|cannot|can't|mustn't|must\s+not|may\s+not)\s+leave\s+{A}",
    )
)
"""Phrases that state data residency; each embeds the area alternation once."""

_RESIDENCY_HINT_RE = re.compile(
    r"\b(?:must|has\s+to|have\s+to|needs?\s+to|should|shall)\s+(?:stay|remain|reside|be\s+kept)\b"
    r"|\bresidency\b|\bsovereignty\b"
    r"|\b(?:must\s+not|mustn't|cannot|can't|never|not)\s+leave\b",
    re.IGNORECASE,
)
"""Residency wording without an area; the area then comes from the stated region."""

_REGION_CODE_RE = re.compile(
    r"(?<![\w-])(?:us|eu|ap|ca|sa|me|af|il|mx|cn)(?:-gov)?-"
    r"(?:east|west|north|south|central|northeast|northwest|southeast|southwest)-\d(?![\w-])",
    re.IGNORECASE,
)
_ONLY_AFTER_RE = re.compile(r"^[\s-]*only\b", re.IGNORECASE)
_ONLY_BEFORE_RE = re.compile(r"\bonly\s+(?:(?:with)?in\s+)?$", re.IGNORECASE)

_NUM = r"\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?"
_MULT = r"(?P<mult>\s?(?:thousand|million|billion)|(?:k|mm|m|bn)(?!\w))"
_MULTIPLIERS: dict[str, float] = {
    "k": 1e3,
    "thousand": 1e3,
    "m": 1e6,
    "mm": 1e6,
    "million": 1e6,
    "bn": 1e9,
    "billion": 1e9,
}

_CURRENCY_WORDS = _Vocab(
    (
        ("USD", r"US\$|USD|US\s+dollars?|dollars?|bucks|\$"),
        ("EUR", r"EUR|euros?|€"),
        ("GBP", r"GBP|pounds?(?:\s+sterling)?|£"),
        ("CAD", r"CA?\$|CAD|canadian\s+dollars?"),
        ("AUD", r"AU?\$|AUD|australian\s+dollars?"),
        ("JPY", r"JPY|yen|¥"),
        ("INR", r"INR|rupees?|Rs\.?|₹"),
    )
)
_CURRENCY_PREFIX = r"US\$|CA?\$|AU?\$|\$|€|£|¥|₹|\b(?:USD|EUR|GBP|CAD|AUD|JPY|INR)\s?|\bRs\.?\s?"
_CURRENCY_SUFFIX = (
    r"USD|EUR|GBP|CAD|AUD|JPY|INR|US\s+dollars?|canadian\s+dollars?|australian\s+dollars?"
    r"|dollars?|bucks|euros?|pounds?(?:\s+sterling)?|yen|rupees?"
)
_PERIOD_UNITS: tuple[tuple[str, str], ...] = (
    ("hour", r"hours?|hrs?|hourly"),
    ("day", r"days?|daily"),
    ("week", r"weeks?|wks?|weekly"),
    ("month", r"months?|mo|mos|mths?|monthly"),
    ("quarter", r"quarters?|qtrs?|quarterly"),
    ("year", r"years?|yrs?|annum|yearly|annually|annual|p\.?a\.?"),
)
_PERIOD_WORD_RE = tuple(
    (period, re.compile(rf"^(?:{pattern})$", re.IGNORECASE)) for period, pattern in _PERIOD_UNITS
)
_BUDGET_RE = re.compile(
    rf"(?P<pre>{_CURRENCY_PREFIX})?(?<![\w.,])(?P<num>{_NUM}){_MULT}?"
    rf"(?P<post>\s?(?:{_CURRENCY_SUFFIX})(?!\w))?"
    r"(?:\s*(?:/\s*|\bper\s+|\ba\s+|\ban\s+|\beach\s+|\bevery\s+)"
    r"(?P<unit>hours?|hrs?|days?|weeks?|wks?|months?|mos?|mths?|quarters?|qtrs?|years?|yrs?|annum)"
    r"(?!\w)|\s+(?P<adv>hourly|daily|weekly|monthly|quarterly|yearly|annually|p\.a\.|pa)(?!\w))?",
    re.IGNORECASE,
)
_BUDGET_CONTEXT_RE = re.compile(
    r"\b(?:budget|spend|spending|cost\s+cap|cap)\b(?:\s*(?:is|of|at|:|=|around|about|up\s+to|"
    r"under|below|max(?:imum)?|roughly|approximately|now|to))*\s*$",
    re.IGNORECASE,
)
_BUDGET_PERIOD_BEFORE_RE = re.compile(
    r"\b(?P<adv>hourly|daily|weekly|monthly|quarterly|yearly|annual|annually)\s+"
    r"(?:budget|spend|spending|cost|cap)\b",
    re.IGNORECASE,
)
_BARE_AMOUNT_RE = re.compile(rf"^\s*(?P<num>{_NUM}){_MULT}?\s*$", re.IGNORECASE)

_VOLUME_UNITS: dict[str, float] = {
    "pb": 1e6,
    "petabyte": 1e6,
    "tb": 1e3,
    "terabyte": 1e3,
    "tib": 1099.511627776,
    "gb": 1.0,
    "gigabyte": 1.0,
    "gib": 1.073741824,
    "mb": 1e-3,
    "megabyte": 1e-3,
    "mib": 0.001048576,
}
_VOLUME_RE = re.compile(
    rf"(?<![\w.,])(?P<num>{_NUM})\s?(?P<unit>PB|TB|TiB|GB|GiB|MB|MiB|"
    r"petabytes?|terabytes?|gigabytes?|megabytes?)(?!\w)"
    r"(?P<rate>\s*(?:/\s*|per\s+|a\s+|an\s+|each\s+|every\s+)(?:day|week|month|hour|year|d|wk|mo|h|yr)"
    r"(?!\w)|\s+(?:daily|weekly|monthly|hourly|nightly)(?!\w))?",
    re.IGNORECASE,
)
_VOLUME_NOT_DATA_AFTER_RE = re.compile(
    r"^\s*(?:of\s+)?(?:RAM|memory|VRAM|GPU|HBM|model)\b", re.IGNORECASE
)
_VOLUME_NOT_DATA_BEFORE_RE = re.compile(
    r"(?:\b(?:A100|H100|H200|A10G|V100|GPU|GPUs|RAM|memory)\s*(?:with\s+)?"
    r"|\b(?:grows?|growing|grow\s+by|adds?|adding|ingests?|ingesting|increases?\s+by)\s+(?:by\s+)?"
    r"(?:about\s+|around\s+|roughly\s+)?)$",
    re.IGNORECASE,
)
_BARE_SIZE_RE = re.compile(rf"^\s*(?P<num>{_NUM})\s*$")

_LATENCY_UNIT = (
    r"(?P<unit>ms|msecs?|milliseconds?|s|secs?|seconds?|mins?|minutes?|hrs?|hours?)(?!\w)"
)
_LATENCY_NUM = r"(?P<num>\d+(?:\.\d+)?)"
_PERCENTILE_LATENCY_RES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\bp(?P<pct>\d{2}(?:\.\d+)?)\b\s*(?:latency|response\s+time)?\s*"
        r"(?:(?:of|under|below|less\s+than|within|at\s+most|<=?|≤|:|=|is|must\s+be|target)\s*)*"
        rf"{_LATENCY_NUM}\s?{_LATENCY_UNIT}",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?P<pct>\d{2}(?:\.\d+)?)(?:th)?\s+percentile\b[^.;\n]{0,30}?"
        rf"{_LATENCY_NUM}\s?{_LATENCY_UNIT}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w.]){_LATENCY_NUM}\s?{_LATENCY_UNIT}\s+(?:at\s+)?p(?P<pct>\d{{2}}(?:\.\d+)?)\b",
        re.IGNORECASE,
    ),
)
"""Latency targets that name their percentile: "p99 200ms", "p95 under 80 ms", "50 ms p99"."""

_LATENCY_RES: tuple[re.Pattern[str], ...] = (
    re.compile(
        r"\b(?:p\d{2,3}(?:\.\d+)?|99(?:th)?\s+percentile|latency|latencies|response\s+times?"
        r"|respond|responses?|inference\s+time)\b[^.;\n]{0,40}?"
        r"(?:under|below|less\s+than|within|at\s+most|max(?:imum)?(?:\s+of)?|of|<=?|≤|sub-?"
        r"|lower\s+than|no\s+more\s+than|up\s+to|is|=|:|in)\s*"
        rf"{_LATENCY_NUM}\s?{_LATENCY_UNIT}",
        re.IGNORECASE,
    ),
    re.compile(
        rf"(?<![\w.]){_LATENCY_NUM}\s?{_LATENCY_UNIT}\s+(?:at\s+)?(?:p\d{{2,3}}|latency|response)",
        re.IGNORECASE,
    ),
    re.compile(
        r"\b(?:under|below|less\s+than|within|sub-?|<=?|≤)\s*"
        rf"{_LATENCY_NUM}\s?{_LATENCY_UNIT}",
        re.IGNORECASE,
    ),
)
_SUB_SECOND_RE = re.compile(r"\bsub-?\s?second\b", re.IGNORECASE)
_BARE_LATENCY_RE = re.compile(rf"^\s*{_LATENCY_NUM}\s?(?:{_LATENCY_UNIT})?\s*$", re.IGNORECASE)
_LATENCY_TO_MS: dict[str, float] = {"ms": 1.0, "msec": 1.0, "millisecond": 1.0, "s": 1000.0}


def _unit_ms(unit: str) -> float:
    """Milliseconds in one latency unit (ms, s, min, h and their spellings)."""
    unit = unit.lower()
    if unit.startswith(("ms", "msec", "milli")):
        return 1.0
    if unit.startswith("min"):
        return 60_000.0
    if unit.startswith(("h", "hr")):
        return 3_600_000.0
    return 1000.0


_RATE_UNIT = r"(?P<unit>seconds?|secs?|s|minutes?|mins?|hours?|hrs?|h|days?|d)(?!\w)"
_THROUGHPUT_RE = re.compile(
    rf"(?<![\w.,])(?P<num>{_NUM})\s?{_MULT}?\s*(?:(?P<suffix>rps|qps|tps|rpm|req/s|requests/s)"
    r"(?!\w)|(?:api\s+|prediction\s+|inference\s+|scoring\s+)?(?:requests?|reqs?|queries|"
    r"predictions?|inferences?|calls|transactions|events|messages|records|scores|lookups|hits)"
    rf"\s*(?:/\s*|per\s+|a\s+|an\s+|each\s+|every\s+){_RATE_UNIT})",
    re.IGNORECASE,
)
_BARE_THROUGHPUT_RE = re.compile(
    rf"^\s*(?P<num>{_NUM})\s?{_MULT}?\s*(?:[a-z ]*?\s*(?:/\s*|per\s+|a\s+|an\s+){_RATE_UNIT})?\s*$",
    re.IGNORECASE,
)
_SECONDS_PER_UNIT: dict[str, float] = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}

# --------------------------------------------------------------------------- negation

_NEG_BEFORE_RE = re.compile(
    r"(?:\b(?:no|not|non|without|never|avoid|avoiding|zero|nor|free\s+of|lack\s+of|lacking"
    r"|instead\s+of|rather\s+than|no\s+longer|drop|remove|removing|exclude|stop\s+using"
    r"|get\s+rid\s+of)|n't(?:\s+(?:need|want|have|use|require))?)"
    r"[\s-]+(?:[\w/]+[\s-]+){0,2}$",
    re.IGNORECASE,
)
_NEG_AFTER_RE = re.compile(
    r"^[\s,]*(?:is\s+|are\s+|was\s+|were\s+|has\s+been\s+|have\s+been\s+|will\s+be\s+|gets?\s+)?"
    r"(?:removed|stripped|masked|redacted|anonymi[sz]ed|excluded|unnecessary|no\s+longer\b"
    r"|not\s+(?:needed|required|necessary|important|present|included|allowed|a\s+requirement"
    r"|in\s+scope|applicable))",
    re.IGNORECASE,
)
_ANON_BEFORE_RE = re.compile(
    r"(?:anonymi[sz]ed|de-?identified|pseudonymi[sz]ed|masked|redacted|hashed)[\s-]+"
    r"(?:[\w/]+[\s-]+){0,2}$",
    re.IGNORECASE,
)


def _negated(text: str, start: int, end: int) -> bool:
    """True when the words just before or after ``text[start:end]`` negate it."""
    before = text[max(0, start - 40) : start]
    return bool(_NEG_BEFORE_RE.search(before) or _NEG_AFTER_RE.match(text[end : end + 40]))


def _first_positive(vocab: _Vocab, text: str) -> tuple[str, re.Match[str]] | None:
    """Return the first non-negated ``(id, match)`` of ``vocab`` in ``text``."""
    for entry_id, match in vocab.finditer(text):
        if not _negated(text, match.start(), match.end()):
            return entry_id, match
    return None


# --------------------------------------------------------------------------- sentences

_SENTENCE_SPLIT_RE = re.compile(r"(?<=[.!?;])\s+|\n+")
_ABBREVIATION_END_RE = re.compile(
    r"(?:(?<![\w.])[A-Z]\.|\b(?:e\.g|i\.e|vs|approx|incl|etc|min|max)\.)$", re.IGNORECASE
)
_CLAUSE_BREAK_RE = re.compile(
    r"[;:!?\n()]|\.(?=\s|$)|,(?!\d{3})|\bbut\b|\bwhile\b|\bwhereas\b", re.IGNORECASE
)
_SCOPE_END_RE = re.compile(r"[;:!?\n()]|\.(?=\s|$)|\bbut\b|\bwhile\b", re.IGNORECASE)


def _sentences(text: str) -> list[str]:
    """Split text into sentences, keeping abbreviations such as "N. Virginia" together."""
    pieces: list[str] = []
    for piece in _SENTENCE_SPLIT_RE.split(text.strip()):
        piece = piece.strip()
        if not piece:
            continue
        if pieces and _ABBREVIATION_END_RE.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        else:
            pieces.append(piece)
    return pieces


def _clause_start(text: str, pos: int) -> int:
    """Index where the clause holding ``pos`` starts."""
    start = 0
    for match in _CLAUSE_BREAK_RE.finditer(text, 0, pos):
        start = match.end()
    return start


def _clause_around(text: str, pos: int) -> tuple[int, int]:
    """Bounds ``(start, end)`` of the clause holding ``pos``."""
    following = _CLAUSE_BREAK_RE.search(text, pos)
    return _clause_start(text, pos), following.start() if following else len(text)


# --------------------------------------------------------------------------- number helpers


def _number(raw: str) -> float:
    return float(raw.replace(",", ""))


def _multiplier(raw: str | None) -> float:
    return _MULTIPLIERS[raw.strip().lower()] if raw else 1.0


def _period_of(word: str | None) -> str | None:
    if not word:
        return None
    cleaned = word.strip().lower()
    for period, regex in _PERIOD_WORD_RE:
        if regex.match(cleaned):
            return period
    return None


def _currency_of(*words: str | None) -> str | None:
    for word in words:
        if word and word.strip():
            for currency, _ in _CURRENCY_WORDS.finditer(word.strip()):
                return currency
    return None


def _make_budget(amount: float, currency: str, period: str) -> Budget | None:
    """A :class:`Budget` with ``monthly_usd`` at the fixed rates; None if it rounds to zero."""
    monthly = round(amount * CURRENCY_TO_USD[currency] * PERIOD_TO_MONTHLY[period], 2)
    amount = round(amount, 2)
    if amount <= 0 or monthly <= 0:
        return None
    return Budget(amount=amount, currency=currency, period=period, monthly_usd=monthly)


# --------------------------------------------------------------------------- field readers


def _read_summary(text: str) -> Found | None:
    sentences = _sentences(text)
    if not sentences:
        return None
    first = sentences[0].rstrip(" .;!")
    if len(first) > SUMMARY_MAX_CHARS:
        cut = first[: SUMMARY_MAX_CHARS - 3].rsplit(" ", 1)[0].rstrip(" ,;:")
        first = f"{cut}..."
    return (first, sentences[0]) if first else None


def _residency_matches(text: str) -> list[tuple[Residency, re.Match[str]]]:
    """Every residency statement with its area, ordered by position."""
    found: list[tuple[Residency, re.Match[str]]] = []
    for regex in _RESIDENCY_RES:
        for match in regex.finditer(text):
            area = next(key for key, _ in _AREA_PATTERNS if match.group(key))
            if not _NEG_BEFORE_RE.search(text[max(0, match.start() - 30) : match.start()]):
                found.append((Residency(area), match))
    return sorted(found, key=lambda item: (item[1].start(), -item[1].end()))


def _region_mentions(
    text: str, exclude: Sequence[tuple[int, int]] = ()
) -> list[tuple[str, re.Match[str]]]:
    """Region codes and common names, ordered by position, outside ``exclude`` spans."""
    mentions = [(m.group(0).lower(), m) for m in _REGION_CODE_RE.finditer(text)]
    for region, match in _REGION_NAMES.finditer(text):
        inside = any(lo <= match.start() < hi for lo, hi in exclude)
        if not inside:
            mentions.append((region, match))
    return sorted(mentions, key=lambda item: item[1].start())


def _region_phrase(text: str, match: re.Match[str]) -> str:
    """The region mention, widened to a neighbouring "only" ("eu-west-1 only")."""
    start, end = match.start(), match.end()
    after = _ONLY_AFTER_RE.match(text[end:])
    before = _ONLY_BEFORE_RE.search(text[max(0, start - 20) : start])
    if after:
        end += after.end()
    if before:
        start -= len(before.group(0))
    return text[start:end].strip()


def _read_region(text: str, exclude: Sequence[tuple[int, int]] = ()) -> Found | None:
    mentions = _region_mentions(text, exclude)
    for region, match in mentions:
        if not _negated(text, match.start(), match.end()):
            return region, _region_phrase(text, match)
    return None


def _area_of_region(region: str) -> Residency | None:
    """The most specific multi-country area a region belongs to (eu-west-2 -> uk)."""
    areas = sorted(
        ((a, r) for a, r in RESIDENCY_REGIONS.items() if a in RESIDENCY_AREAS),
        key=lambda item: (len(item[1]), item[0]),
    )
    for area, regions in areas:
        if region in regions:
            return Residency(area)
    return None


def _read_residency_from_region(text: str, region: str, phrase: str) -> Found | None:
    """Residency implied by a region said to be exclusive ("eu-west-1 only")."""
    area = _area_of_region(region)
    if area is None:
        return None
    if re.search(r"\bonly\b", phrase, re.IGNORECASE):
        return area, phrase
    hint = _RESIDENCY_HINT_RE.search(text)
    return (area, hint.group(0)) if hint else None


def _budget_candidate(text: str, match: re.Match[str]) -> tuple[bool, Budget, str] | None:
    """The budget stated at ``match``: (period stated?, budget, phrase), or None if not money."""
    currency = _currency_of(match.group("pre"), match.group("post"))
    if currency is None and _BUDGET_CONTEXT_RE.search(
        text[max(0, match.start() - 60) : match.start()]
    ):
        currency = "USD"
    if currency is None:
        return None
    period = _period_of(match.group("unit") or match.group("adv"))
    if period is None:
        before = _BUDGET_PERIOD_BEFORE_RE.search(text[max(0, match.start() - 60) : match.start()])
        period = _period_of(before.group("adv")) if before else None
    amount = _number(match.group("num")) * _multiplier(match.group("mult"))
    budget = _make_budget(amount, currency, period or "month")
    return (period is not None, budget, match.group(0).strip()) if budget else None


def _read_budget(text: str) -> Found | None:
    """The first amount of money with a period; else the first amount (per month)."""
    candidates = [
        found
        for match in _BUDGET_RE.finditer(text)
        if (found := _budget_candidate(text, match)) is not None
    ]
    if not candidates:
        return None
    with_period = [c for c in candidates if c[0]]
    _, budget, phrase = (with_period or candidates)[0]
    return budget, phrase


def _volume_gb(match: re.Match[str]) -> float:
    unit = match.group("unit").lower().rstrip("s")
    return round(_number(match.group("num")) * _VOLUME_UNITS[unit], 3)


_RATE_PER_MONTH: dict[str, float] = {
    "h": 730.0,
    "d": 365 / 12,
    "n": 365 / 12,  # nightly
    "w": 52 / 12,
    "m": 1.0,
    "y": 1 / 12,
}


def _rate_per_month(rate: str) -> float:
    word = re.sub(r"^[\s/]*(?:per|a|an|each|every)?\s*", "", rate.strip().lower())
    return _RATE_PER_MONTH.get(word[:1], 1.0)


def _read_growth(text: str) -> Found | None:
    """An ingest rate ("2 TB/month", "50 GB a day", "grows by 10 GB weekly") in GB/month."""
    for match in _VOLUME_RE.finditer(text):
        if not match.group("rate"):
            continue
        if _VOLUME_NOT_DATA_AFTER_RE.match(text[match.end() :]):
            continue
        monthly = _volume_gb(match) * _rate_per_month(match.group("rate"))
        return round(monthly, 3), match.group(0).strip()
    return None


def _read_volume(text: str) -> Found | None:
    for match in _VOLUME_RE.finditer(text):
        if match.group("rate"):
            continue
        if _VOLUME_NOT_DATA_AFTER_RE.match(text[match.end() :]):
            continue
        if _VOLUME_NOT_DATA_BEFORE_RE.search(text[max(0, match.start() - 30) : match.start()]):
            continue
        return _volume_gb(match), match.group(0).strip()
    return None


def _latency_ms(match: re.Match[str]) -> int | None:
    value = round(float(match.group("num")) * _unit_ms(match.group("unit")))
    return value if value > 0 else None


def _read_percentiles(text: str) -> dict[str, Found]:
    """Latency targets by percentile: ``{"p99": (ms, phrase), "p95": (ms, phrase)}``."""
    found: dict[str, Found] = {}
    for regex in _PERCENTILE_LATENCY_RES:
        for match in regex.finditer(text):
            value = _latency_ms(match)
            pct = match.group("pct")
            key = "p95" if pct.startswith("95") else "p99" if pct.startswith("99") else None
            if value is not None and key is not None and key not in found:
                found[key] = (value, match.group(0).strip())
    return found


def _read_latency(text: str) -> Found | None:
    """The p99 target (a target without a percentile counts as p99)."""
    percentiles = _read_percentiles(text)
    if "p99" in percentiles:
        return percentiles["p99"]
    if "p95" in percentiles:
        return None
    return _read_untagged_latency(text)


def _read_latency_p95(text: str) -> Found | None:
    return _read_percentiles(text).get("p95")


_TIMELINESS_CUE_RE = re.compile(
    r"\b(?:alert\w*|notif\w*|respon\w*|latenc\w*|detect\w*|predictions?|scores?|scoring"
    r"|results?|answers?|available|fresh\w*|real[- ]?time|inference|serv\w*|flag\w*"
    r"|warn\w*|decisions?|SLA)\b",
    re.IGNORECASE,
)


def _read_untagged_latency(text: str) -> Found | None:
    for regex in _LATENCY_RES:
        for match in regex.finditer(text):
            value = _latency_ms(match)
            if value is None:
                continue
            if value >= 60_000:  # minutes or hours: only as a timeliness target
                start = _clause_start(text, match.start())
                if not _TIMELINESS_CUE_RE.search(text[start : match.end()]):
                    continue
            return value, match.group(0).strip()
    sub_second = _SUB_SECOND_RE.search(text)
    return (1000, sub_second.group(0)) if sub_second else None


def _per_second(number: float, unit: str | None) -> float:
    seconds = _SECONDS_PER_UNIT[unit[0].lower()] if unit else 1.0
    return round(number / seconds, 3)


def _read_throughput(text: str) -> Found | None:
    for match in _THROUGHPUT_RE.finditer(text):
        number = _number(match.group("num")) * _multiplier(match.group("mult"))
        suffix = (match.group("suffix") or "").lower()
        unit = "minute" if suffix == "rpm" else match.group("unit")
        value = _per_second(number, unit)
        if value > 0:
            return value, match.group(0).strip()
    return None


_MODE_CUES: tuple[tuple[DeploymentMode, _Vocab], ...] = (
    (
        DeploymentMode.STREAMING,
        _Vocab(
            (
                ("streaming", r"stream(?:ing|s|ed)?|event[- ]streams?"),
                ("clickstream", r"click[- ]?streams?"),
                ("kinesis", r"kinesis|kafka|MSK|flink"),
            )
        ),
    ),
    (
        DeploymentMode.REAL_TIME,
        _Vocab(
            (
                ("real_time", r"real[- ]?time|near[- ]real[- ]?time"),
                (
                    "online",
                    r"online\s+(?:inference|predictions?|serving|scoring|model|endpoint"
                    r"|recommendations?|api)",
                ),
                ("api", r"(?-i:API|APIs|REST)|endpoints?|microservice"),
                ("latency", r"low[- ]latency|per[- ]request|on\s+each\s+request|synchronous"),
            )
        ),
    ),
    (
        DeploymentMode.BATCH,
        _Vocab(
            (
                ("batch", r"batch(?:es|ed)?|batch[- ]transform|nightly|overnight"),
                ("offline", r"offline\s+(?:scoring|inference|predictions?)"),
                (
                    "scheduled",
                    r"(?:daily|weekly|monthly|hourly|scheduled|bulk)\s+(?:predictions?|scoring"
                    r"|scores|inference|reports?|runs?|jobs?|forecasts?)",
                ),
            )
        ),
    ),
)
"""Serving-mode cues in priority order: streaming beats real-time, which beats batch."""

_ONLINE_SERVING = _Vocab(
    (
        ("api", r"(?-i:API|APIs|REST)|endpoints?|microservice"),
        (
            "online",
            r"online\s+(?:inference|predictions?|serving|scoring|model|endpoint"
            r"|recommendations?|api)|per[- ]request|on\s+each\s+request|synchronous",
        ),
    )
)
"""Request/response serving cues: with them, a clickstream is data, not a stream to serve."""

_TRAINING_CADENCE_RE = re.compile(
    r"\b(?:nightly|daily|weekly|monthly|quarterly|hourly|batch)\s+(?:re-?train|fine[- ]?tun)\w*"
    r"|\b(?:re-?train|fine[- ]?tun)\w*\s+(?:\w+\s+){0,3}?(?:nightly|daily|weekly|monthly"
    r"|quarterly|hourly|overnight|in\s+batch(?:es)?)\b",
    re.IGNORECASE,
)
"""Training-cadence phrases; removed before looking for batch cues (they are not serving)."""


def _read_mode(text: str) -> Found | None:
    serving_text = _TRAINING_CADENCE_RE.sub(lambda m: " " * len(m.group(0)), text)
    online = _first_positive(_ONLINE_SERVING, serving_text)
    for mode, vocab in _MODE_CUES:
        found = _first_positive(vocab, serving_text)
        if found is None:
            continue
        if mode == DeploymentMode.STREAMING and found[0] == "clickstream" and online:
            # "a real-time recommendation API over clickstream data": the clickstream is
            # the data; predictions are served on request.
            return DeploymentMode.REAL_TIME, online[1].group(0)
        return mode, found[1].group(0)
    latency = _read_latency(text)
    return (DeploymentMode.REAL_TIME, latency[1]) if latency else None


_SENSITIVITY = _Vocab(
    (
        (
            "pii",
            r"PII|personally\s+identifiable(?:\s+information)?|personal\s+(?:financial\s+|health\s+)?"
            r"(?:data|information|details|records)|customer\s+(?:names?|e-?mails?|addresses"
            r"|phone\s+numbers?|contact\s+details|financial\s+(?:data|records))"
            r"|(?:customers?'?|clients?'?|users?'?)\s+(?:financial|banking|bank)\s+(?:data|records|details)"
            r"|bank\s+account\s+(?:numbers?|details)|account\s+holders?|IBANs?|tax\s+records"
            r"|e-?mail\s+addresses|names\s+and\s+(?:e-?mails?|addresses)|phone\s+numbers"
            r"|SSNs?|social\s+security\s+numbers?|dates?\s+of\s+birth|passport\s+numbers?",
        ),
        (
            "phi",
            r"PHI|patients?|health\s+(?:records?|data|information)|medical|HIPAA|EHRs?"
            r"|clinical|diagnos[ie]s|protected\s+health",
        ),
        (
            "pci",
            r"PCI(?:[- ]DSS)?|card\s?holders?(?:\s+data)?|credit[- ]cards?|debit[- ]cards?"
            r"|card\s+(?:data|numbers?|transactions|payments|details)|payment\s+cards?"
            r"|payment\s+(?:data|details|information|card\s+data)",
        ),
    )
)
_NO_SENSITIVE_RE = re.compile(
    r"\b(?:no|without|zero|free\s+of|not\s+any)\s+(?:PII|personal(?:ly\s+identifiable)?"
    r"\s+(?:data|information)|sensitive\s+data|regulated\s+data|personal\s+information"
    r"|customer\s+data|private\s+data)\b"
    r"|\banonymi[sz]ed\b|\bde-?identified\b|\bpublic(?:ly\s+available)?\s+data(?:sets?)?\b"
    r"|\bnon-?sensitive\b|\bnon-?PII\b|\bPII[- ]free\b|\bopen\s+data\b|\bsynthetic\s+data\b",
    re.IGNORECASE,
)


def _sensitivity_cues(text: str) -> tuple[list[DataSensitivity], list[str], list[str]]:
    """Return (present classes in enum order, their phrases, classes explicitly denied)."""
    present: dict[str, str] = {}
    denied: list[str] = []
    for sid, match in _SENSITIVITY.finditer(text):
        before = text[max(0, match.start() - 40) : match.start()]
        if _negated(text, match.start(), match.end()) or _ANON_BEFORE_RE.search(before):
            if not _COMPLIANCE.regex.fullmatch(match.group(0)):
                denied.append(sid)
        else:
            present.setdefault(sid, match.group(0))
    classes = [s for s in DataSensitivity if s.value in present]
    return classes, [present[s.value] for s in classes], denied


def _read_sensitivity(text: str) -> Found | None:
    classes, phrases, _ = _sensitivity_cues(text)
    if classes:
        return classes, "; ".join(phrases)
    none = _NO_SENSITIVE_RE.search(text)
    return ([], none.group(0)) if none else None


_COMPLIANCE = _Vocab(
    (
        ("GDPR", r"GDPR"),
        ("HIPAA", r"HIPAA"),
        ("SOC2", r"SOC[- ]?2(?:\s+type\s+(?:II|2|I|1))?|SOC\s+II"),
        (
            "PCI-DSS",
            r"PCI[- ]?DSS|PCI[- ](?:compliance|compliant|scope|requirements|rules|standards?)",
        ),
        ("ISO27001", r"ISO(?:/IEC)?[- ]?27001"),
        ("FEDRAMP", r"FedRAMP"),
        ("CCPA", r"CCPA"),
        ("SOX", r"SOX|Sarbanes[- ]Oxley"),
    )
)
"""Compliance regimes -> normalised uppercase token."""

_FRAMEWORKS = _Vocab(
    (
        ("xgboost", r"xgboost|xgb"),
        ("lightgbm", r"light\s?gbm|lgbm"),
        ("catboost", r"catboost"),
        ("scikit-learn", r"scikit[- ]?learn|sk-?learn"),
        ("pytorch", r"py-?torch(?:\s+lightning)?|torch"),
        ("tensorflow", r"tensor\s?flow|tf\.keras|keras"),
        ("huggingface", r"hugging\s?face|transformers"),
        ("spark-mllib", r"spark\s+ml(?:lib)?|mllib|pyspark\.ml"),
        ("prophet", r"prophet"),
        ("statsmodels", r"statsmodels"),
        ("jax", r"jax"),
    )
)
"""ML frameworks -> normalised lowercase id."""


def _read_list(vocab: _Vocab, text: str) -> Found | None:
    """Non-negated ids of ``vocab`` in order of appearance, with their phrases."""
    ids: dict[str, str] = {}
    for entry_id, match in vocab.finditer(text):
        if not _negated(text, match.start(), match.end()):
            ids.setdefault(entry_id, match.group(0))
    return (list(ids), "; ".join(ids.values())) if ids else None


def _read_compliance(text: str) -> Found | None:
    return _read_list(_COMPLIANCE, text)


def _read_frameworks(text: str) -> Found | None:
    return _read_list(_FRAMEWORKS, text)


_PROBLEMS = _Vocab(
    (
        (
            "llm_fine_tuning",
            r"fine[- ]?tun\w*|LLMs?|llama(?:[- ]?\d+)?|mistral|mixtral|falcon|gemma|q?lora"
            r"|large\s+language\s+models?|GPT(?:-\w+)?",
        ),
        ("anomaly_detection", r"anomal\w*|outliers?|intrusion\s+detection"),
        (
            "computer_vision",
            r"images?|imaging|object\s+detection|computer\s+vision|vision|videos?|OCR|photos?"
            r"|x-rays?|scans|MRIs?|CT\s+scans?",
        ),
        (
            "recommendation",
            r"recommend\w*|recsys|personali[sz]\w*|next[- ]best[- ]\w+|collaborative\s+filtering",
        ),
        (
            "forecasting",
            r"forecast\w*|time[- ]series|(?<!on )(?<!on-)demand|predict\s+(?:sales|volumes?)",
        ),
        (
            "nlp",
            r"NLP|natural\s+language|sentiment|text\s+classification|named\s+entit\w+|NER"
            r"|summari[sz]\w*|translation|chatbots?|topic\s+model\w*|support\s+tickets",
        ),
        (
            "classification",
            r"churn\w*|fraud\w*|classif\w*|spam|propensity|readmissions?|logistic\s+regression"
            r"|(?:credit|default)\s+risk|risk\s+(?:scor\w*|models?|predictions?)|click[- ]through"
            r"|(?:loan|credit|payment)\s+defaults?"
            r"|CTR|lead\s+scoring|will\s+(?:churn|buy|default|convert)|binary",
        ),
        (
            "regression",
            r"regression|pric(?:e|es|ing)\s+(?:prediction|estimation|model)\w*"
            r"|(?:house|home|housing|property|car|ticket|stock)\s+prices?"
            r"|predict\w*\s+(?:the\s+)?(?:\w+\s+)?(?:prices?|revenue|value|duration)"
            r"|(?:customer\s+)?lifetime\s+value|[CL]LV|LTV",
        ),
    )
)
"""Problem-type cues; the order is the priority when several kinds are mentioned."""


def _read_problem(text: str) -> Found | None:
    hits: dict[str, str] = {}
    for problem, match in _PROBLEMS.finditer(text):
        if not _negated(text, match.start(), match.end()):
            hits.setdefault(problem, match.group(0))
    for problem in _PROBLEMS.ids:
        if problem in hits:
            return problem, hits[problem]
    return None


_TARGET_RE = re.compile(
    r"\b(?:predict(?:s|ing)?|forecast(?:s|ing)?|estimate|estimating|classify|classifying"
    r"|detect|detecting|flag|flagging)\s+"
    r"(?P<target>(?:the\s+|which\s+|whether\s+|if\s+|how\s+many\s+|how\s+much\s+)?"
    r"[A-Za-z][\w'-]*(?:\s+[\w'-]+){0,7}?)"
    r"(?=\s*(?:[,.;:!?()]|$)|\s+(?:for|from|with|on|in|at|using|via|every|each|daily|weekly"
    r"|nightly|monthly|and)\b)",
    re.IGNORECASE,
)


def _read_target(text: str) -> Found | None:
    """What the model predicts, when the request says it ("predict which leads convert")."""
    match = _TARGET_RE.search(text)
    if match is None:
        return None
    return match.group("target").strip(), match.group(0).strip()


_CADENCE_WORDS = _Vocab(
    (
        ("hourly", r"hourly|every\s+hour|each\s+hour|once\s+an\s+hour"),
        (
            "daily",
            r"daily|nightly|every\s+(?:day|night)|each\s+(?:day|night)|once\s+(?:a|per)\s+day"
            r"|overnight",
        ),
        (
            "weekly",
            r"weekly|every\s+week|each\s+week|once\s+(?:a|per)\s+week"
            r"|every\s+(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday)",
        ),
        ("monthly", r"monthly|every\s+month|each\s+month|once\s+(?:a|per)\s+month"),
        (
            "quarterly",
            r"quarterly|every\s+quarter|each\s+quarter|once\s+(?:a|per)\s+quarter"
            r"|every\s+(?:3|three)\s+months",
        ),
        (
            "on_demand",
            r"on[- ]demand|ad[- ]hoc|when\s+(?:data\s+)?drift(?:\s+is\s+detected)?|on\s+drift"
            r"|drift[- ](?:triggered|based)|manually|as\s+needed|when\s+needed"
            r"|when\s+(?:performance|accuracy)\s+(?:drops|degrades)",
        ),
    )
)
_RETRAIN_RE = re.compile(
    r"\bre-?train\w*|\btrain(?:ed|s)?\b|\btraining\b(?!\s+(?:data|set|dataset|samples|examples))"
    r"|\brefresh\w*|\bupdate[sd]?\s+the\s+model\b|\bfine[- ]?tun\w*|\bre-?fit\w*"
    r"|\brebuil[dt]\w*|\bre-?calibrat\w*|\bre-?learn\w*|\bmodels?\s+(?:is\s+|are\s+)?updated\b",
    re.IGNORECASE,
)


def _read_cadence(text: str) -> Found | None:
    for keyword in _RETRAIN_RE.finditer(text):
        start, end = _clause_around(text, keyword.start())
        clause = text[start:end]
        anchor = keyword.start() - start
        options = [
            (abs(match.start() - anchor), cadence, match)
            for cadence, match in _CADENCE_WORDS.finditer(clause)
        ]
        if options:
            _, cadence, match = min(options, key=lambda item: item[0])
            lo, hi = min(match.start(), anchor), max(match.end(), keyword.end() - start)
            return cadence, clause[lo:hi].strip()
    return None


def _bool_reader(positive: re.Pattern[str], negative: re.Pattern[str]) -> Callable[[str], Any]:
    """Reader for a boolean: negative phrases or negated positives give False."""

    def read(text: str) -> Found | None:
        denial = negative.search(text)
        if denial:
            return False, denial.group(0)
        match = positive.search(text)
        if match is None:
            return None
        return not _negated(text, match.start(), match.end()), match.group(0)

    return read


_read_gpu = _bool_reader(
    re.compile(
        r"\bGPUs?\b|\b(?:A100|H100|H200|A10G|V100|T4|L40S)\b|\bCUDA\b"
        r"|\b(?:p[345]d?e?|g[456](?:dn|ad|e)?|trn1|inf2)(?:\.\d*x?large)?\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bCPU[- ]only\b|\bonly\s+CPUs?\b|\bCPUs?\s+only\b", re.IGNORECASE),
)
_read_spot = _bool_reader(
    re.compile(r"\b(?:managed\s+)?spot(?:\s+(?:instances?|training|capacity|pricing))?\b", re.I),
    re.compile(r"\bon-demand\s+(?:instances|capacity)\s+only\b", re.IGNORECASE),
)
_read_ha = _bool_reader(
    re.compile(
        r"\bhighly[- ]available\b|\bhigh[- ]availability\b|\bmulti[- ]?AZ\b"
        r"|\bmultiple\s+(?:AZs|availability\s+zones)\b|\b99\.9+\s?%(?:\s+(?:availability|uptime"
        r"|SLA))?|\bfault[- ]tolerant\b|\b(?-i:HA)\b",
        re.IGNORECASE,
    ),
    re.compile(r"\bsingle[- ]AZ\b|\bone\s+AZ\b", re.IGNORECASE),
)

# --------------------------------------------------------------------------- people & services

_SERVICES = _Vocab(
    (
        ("sagemaker", r"(?:amazon\s+|aws\s+)?sage\s?maker"),
        ("eks", r"EKS|kubernetes|k8s"),
        ("ecs", r"ECS"),
        ("fargate", r"fargate"),
        ("emr", r"(?:amazon\s+)?EMR"),
        ("serverless", r"serverless"),
        ("kinesis", r"kinesis"),
        ("glue", r"(?:aws\s+)?glue"),
        ("lambda", r"(?:aws\s+)?lambdas?"),
        ("athena", r"athena"),
        ("redshift", r"redshift"),
        ("step_functions", r"step\s+functions"),
        ("mwaa", r"MWAA|airflow"),
        ("msk", r"MSK|kafka"),
        ("bedrock", r"bedrock"),
        ("dynamodb", r"dynamo\s?db"),
        ("ec2", r"EC2"),
        ("flink", r"flink"),
        ("databricks", r"databricks"),
    )
)
"""AWS services (and a few platforms) -> lowercase service id."""

_PREFER_TRIGGER_RE = re.compile(
    r"\bprefer\w*|\b(?:use|uses|using)\b|\bstandardi[sz]ed\s+on\b|\bfavou?r\w*|\bbuilt\s+on\b"
    r"|\bgo\s+with\b|\bstick\s+(?:with|to)\b|\bkeep\b|\blike\s+to\s+use\b|\bbased\s+on\b"
    r"|\bswitch\s+to\b|\bmove\s+to\b|\brely\s+on\b",
    re.IGNORECASE,
)
_AVOID_TRIGGER_RE = re.compile(
    r"\bavoid\w*|\bno\b|\bnot\b|\bwithout\b|\bnever\b|n't\b(?:\s+(?:want\s+to\s+)?use\b)?"
    r"|\bexclud\w*|\bban\w*|\brather\s+than\b|\binstead\s+of\b|\bstay\s+away\s+from\b"
    r"|\bother\s+than\b|\bthan\b|\bexcept\b|\bover\b|\bdrop\b|\bremove\b|\bget\s+rid\s+of\b",
    re.IGNORECASE,
)
_PREFER_AFTER_RE = re.compile(
    r"^\s*(?:is\s+|are\s+)?(?:preferred|preferably|if\s+possible|first|please|favou?red)\b",
    re.IGNORECASE,
)
_AVOID_AFTER_RE = re.compile(
    r"^\s*(?:is\s+|are\s+)?(?:not\s+allowed|banned|forbidden|off\s+the\s+table|prohibited"
    r"|not\s+an\s+option|not\s+permitted|out\s+of\s+the\s+question)\b",
    re.IGNORECASE,
)
_TRIGGER_WINDOW = 40


def _last_trigger(context: str) -> str | None:
    """``"prefer"`` or ``"avoid"`` from the trigger nearest the end of ``context``."""
    prefer = [m.end() for m in _PREFER_TRIGGER_RE.finditer(context)]
    avoid = [m.end() for m in _AVOID_TRIGGER_RE.finditer(context)]
    if not prefer and not avoid:
        return None
    return "avoid" if max(avoid, default=-1) >= max(prefer, default=-1) else "prefer"


def _service_stance(text: str, match: re.Match[str]) -> str | None:
    """Whether the text prefers or avoids the service mentioned at ``match``."""
    after = text[match.end() : match.end() + 40]
    if _AVOID_AFTER_RE.match(after):
        return "avoid"
    start = max(_clause_start(text, match.start()), match.start() - _TRIGGER_WINDOW)
    stance = _last_trigger(text[start : match.start()])
    if stance is None and _PREFER_AFTER_RE.match(after):
        return "prefer"
    return stance


def _read_services(text: str) -> tuple[dict[str, str], dict[str, str]]:
    """Return ``(preferred, avoided)``: service id -> phrase, in order of appearance."""
    preferred: dict[str, str] = {}
    avoided: dict[str, str] = {}
    for service, match in _SERVICES.finditer(text):
        stance = _service_stance(text, match)
        if stance == "prefer" and service not in avoided:
            preferred.setdefault(service, match.group(0))
        elif stance == "avoid":
            preferred.pop(service, None)
            avoided.setdefault(service, match.group(0))
    return preferred, avoided


_SKILLS = _Vocab(
    (
        ("python", r"python"),
        ("sql", r"SQL"),
        ("terraform", r"terraform"),
        ("cdk", r"(?:aws\s+)?CDK"),
        ("cloudformation", r"cloud\s?formation"),
        ("kubernetes", r"kubernetes|k8s|EKS"),
        ("docker", r"docker|containers"),
        ("spark", r"(?:py)?spark"),
        ("airflow", r"airflow"),
        ("mlflow", r"mlflow"),
        ("sagemaker", r"sage\s?maker"),
        ("java", r"java"),
        ("scala", r"scala"),
        ("r", r"(?-i:R)"),
        ("dbt", r"dbt"),
        ("aws", r"(?-i:AWS)"),
        ("devops", r"devops"),
    )
)
"""Skills the planner can take into account -> lowercase id."""

_SKILL_TRIGGER_RE = re.compile(
    r"\b(?:knows?|know\s+well|(?:are|is)\s+(?:strong|good|skilled|experienced|proficient|fluent"
    r"|comfortable|familiar)\s+(?:in|with|at)|familiar\s+with|experienced\s+(?:in|with)"
    r"|experience\s+(?:in|with)|skilled\s+(?:in|with)|expertise\s+(?:in|with)"
    r"|proficient\s+(?:in|with)|comfortable\s+with|fluent\s+in|strong\s+in|good\s+at"
    r"|(?:team|we|engineers|they)\s+(?:already\s+)?(?:uses?|works?\s+with|writes?))\b",
    re.IGNORECASE,
)
_SKILL_NOUN_RE = re.compile(
    r"^\s*(?:skills?|experience|expertise|knowledge|background|shop|developers|engineers)\b",
    re.IGNORECASE,
)
_DATA_SCIENTISTS_ONLY_RE = re.compile(
    r"\b(?:only|just)\s+data\s+scientists\b|\bdata\s+scientists\s+only\b"
    r"|\bteam\s+of\s+data\s+scientists\b|\b(?:team\s+is|we\s+are)\s+(?:all\s+|only\s+|just\s+)?"
    r"data\s+scientists\b",
    re.IGNORECASE,
)


def _skills_after_triggers(text: str, skills: dict[str, str]) -> None:
    for trigger in _SKILL_TRIGGER_RE.finditer(text):
        if _negated(text, trigger.start(), trigger.start()):
            continue
        end_match = _SCOPE_END_RE.search(text, trigger.end())
        scope_end = end_match.start() if end_match else len(text)
        for skill, match in _SKILLS.finditer(text[trigger.end() : scope_end]):
            offset = trigger.end()
            if not _negated(text, offset + match.start(), offset + match.end()):
                skills.setdefault(skill, f"{trigger.group(0)} {match.group(0)}")


def _read_skills(text: str) -> Found | None:
    skills: dict[str, str] = {}
    _skills_after_triggers(text, skills)
    for skill, match in _SKILLS.finditer(text):
        noun = _SKILL_NOUN_RE.match(text[match.end() :])
        if noun and not _negated(text, match.start(), match.end()):
            skills.setdefault(skill, match.group(0) + noun.group(0))
    team = _DATA_SCIENTISTS_ONLY_RE.search(text)
    if team:
        skills.setdefault("data_science", team.group(0))
    return (list(skills), "; ".join(skills.values())) if skills else None


# --------------------------------------------------------------------------- extract

_TEXT_READERS: tuple[tuple[str, Callable[[str], Found | None]], ...] = (
    ("summary", _read_summary),
    ("problem_type", _read_problem),
    ("prediction_target", lambda text: _read_target(text)),
    ("deployment_mode", _read_mode),
    ("budget", _read_budget),
    ("data_volume_gb", _read_volume),
    ("latency_p99_ms", _read_latency),
    ("latency_p95_ms", _read_latency_p95),
    ("data_growth_gb_per_month", _read_growth),
    ("throughput_rps", _read_throughput),
    ("data_sensitivity", _read_sensitivity),
    ("compliance", _read_compliance),
    ("frameworks", _read_frameworks),
    ("retraining_cadence", _read_cadence),
    ("team_skills", _read_skills),
    ("gpu_required", _read_gpu),
    ("use_spot_training", _read_spot),
    ("high_availability", _read_ha),
)
"""Readers of independent fields; region, residency and services are read separately."""


def _read_geography(text: str, values: dict[str, Any], evidence: dict[str, str]) -> None:
    """Read residency and region; a residency-only statement never invents a region."""
    residencies = _residency_matches(text)
    if residencies:
        area, match = residencies[0]
        values["data_residency"], evidence["data_residency"] = area, match.group(0).strip()
    region = _read_region(text, [m.span() for _, m in residencies])
    if region is None:
        area = values.get("data_residency")
        regions = RESIDENCY_REGIONS.get(area.value, ()) if area is not None else ()
        if len(regions) == 1:  # a country with one AWS region: that region
            values["region"] = regions[0]
            evidence["region"] = f"{evidence['data_residency']} (the only region there)"
        return
    values["region"], evidence["region"] = region
    if "data_residency" not in values:
        implied = _read_residency_from_region(text, region[0], region[1])
        if implied is not None:
            values["data_residency"], evidence["data_residency"] = implied


def _read_service_fields(text: str, values: dict[str, Any], evidence: dict[str, str]) -> None:
    preferred, avoided = _read_services(text)
    for field, found in (("preferred_services", preferred), ("avoided_services", avoided)):
        if found:
            values[field], evidence[field] = list(found), "; ".join(found.values())


def _answer_order(field: str) -> tuple[int, str]:
    order = ANSWERABLE_FIELDS.index(field) if field in ANSWERABLE_FIELDS else len(ANSWERABLE_FIELDS)
    return order, field


def extract(request: str, answers: dict[str, str]) -> tuple[ConstraintSchema, dict[str, str]]:
    """Read a :class:`ConstraintSchema` from a plain-words request.

    Args:
        request: The user's description of the ML workload.
        answers: Field name -> the user's answer text; parsed with :func:`parse_answer`,
            answers override whatever the request says.

    Returns:
        The constraints and the evidence: field -> the phrase of the request the value
        was read from (``"answer: <text>"`` for answered fields).

    Raises:
        InvalidAnswer: if an answer cannot be read or names an unknown field.
    """
    text = request or ""
    values: dict[str, Any] = {}
    evidence: dict[str, str] = {}
    for field, reader in _TEXT_READERS:
        found = reader(text)
        if found is not None:
            values[field], evidence[field] = found
    _read_geography(text, values, evidence)
    _read_service_fields(text, values, evidence)
    for field in sorted(answers, key=_answer_order):
        values[field] = parse_answer(field, answers[field])
        evidence[field] = f"answer: {answers[field]}"
    problem_answer = answers.get("problem_type", "")
    if "prediction_target" not in answers and len(problem_answer.split()) >= 3:
        target = re.sub(r"\s*\([^)]*\)\s*$", "", problem_answer).strip(" .")
        values["prediction_target"] = _read_target(target)[0] if _read_target(target) else target
        evidence["prediction_target"] = f"answer: {problem_answer}"
    return ConstraintSchema.model_validate(values), evidence


# --------------------------------------------------------------------------- answers

_NONE_ANSWER_RE = re.compile(
    r"^\s*(?:no|none|nope|n/?a|nothing|no\s+\w+(?:\s+\w+)?|not\s+applicable|not\s+really"
    r"|neither|public(?:\s+data)?|anonymi[sz]ed)\s*[.!]?\s*$",
    re.IGNORECASE,
)
_LIST_SPLIT_RE = re.compile(r"\s*(?:,|;|&|\+|\band\b|\bplus\b)\s*", re.IGNORECASE)
_SLUG_RE = re.compile(r"^[A-Za-z][A-Za-z0-9 ._+-]{0,30}$")
_TRUE_RE = re.compile(
    r"^\s*(?:y|yes|yeah|yep|true|1|required|needed|gpus?|we\s+do|definitely|yes\b.*)\s*[.!]?$",
    re.IGNORECASE,
)
_FALSE_RE = re.compile(
    r"^\s*(?:n|no|nope|false|0|not\s+(?:needed|required)|none|cpu(?:[- ]only)?|no\b.*)\s*[.!]?$",
    re.IGNORECASE,
)
_SENSITIVITY_WORDS: tuple[tuple[str, str], ...] = (
    ("personal", "pii"),
    ("health", "phi"),
    ("card", "pci"),
    ("payment", "pci"),
)
_MODE_ANSWERS = _Vocab(
    (
        ("batch", r"batch|offline|nightly|scheduled"),
        ("real_time", r"real[-_ ]?time|online|endpoint|api|on[- ]request"),
        ("streaming", r"streaming|stream"),
    )
)
_PROBLEM_ALIASES = _Vocab(
    (
        ("llm_fine_tuning", r"llm(?:[-_ ]fine[-_ ]?tuning)?|fine[-_ ]?tuning"),
        ("computer_vision", r"computer[-_ ]vision|cv|vision"),
        ("anomaly_detection", r"anomaly(?:[-_ ]detection)?"),
        ("recommendation", r"recommendations?|recommender"),
        ("forecasting", r"forecast(?:ing)?|time[-_ ]series"),
    )
)
_ANSWER_EXPECTED: dict[str, str] = {
    "summary": "a one-line description of the workload",
    "problem_type": "one of " + ", ".join(PROBLEM_TYPES),
    "deployment_mode": "one of 'batch', 'real-time' or 'streaming'",
    "region": "an AWS region code such as 'eu-west-1' or a location such as 'Frankfurt'",
    "data_residency": "an area such as 'EU', 'US', 'UK', 'Canada' or 'APAC', or 'none'",
    "budget": "an amount such as '$1,500/month' or '20000 EUR per year'",
    "data_volume_gb": "a size such as '40 GB' or '2.5 TB' (row counts cannot be converted)",
    "latency_p99_ms": "a latency such as '100 ms', '2 seconds' or '5 minutes'",
    "latency_p95_ms": "a latency such as '80 ms', '2 seconds' or '5 minutes'",
    "data_growth_gb_per_month": "a rate such as '2 TB/month' or '50 GB a day'",
    "prediction_target": "a short description of what the model predicts",
    "throughput_rps": "a rate such as '200 requests per second' or '1M predictions per day'",
    "data_sensitivity": "'none' or a list such as 'pii, pci' "
    "(pii = personal data, phi = health data, pci = payment card data)",
    "compliance": "'none' or a list such as 'GDPR, SOC 2'",
    "frameworks": "a list such as 'xgboost, pytorch'",
    "retraining_cadence": "one of hourly, daily, weekly, monthly or on demand",
    "team_skills": "a list such as 'python, terraform'",
    "preferred_services": "'none' or a list such as 'sagemaker, lambda'",
    "gpu_required": "yes or no",
}


def _invalid(field: str, value: str) -> InvalidAnswer:
    return InvalidAnswer(field, value, _ANSWER_EXPECTED[field])


def _split_list(value: str) -> list[str]:
    return [token for token in _LIST_SPLIT_RE.split(value.strip()) if token]


def _answer_summary(value: str) -> Any:
    text = " ".join(value.split())
    found = _read_summary(text)
    if found is None:
        raise _invalid("summary", value)
    return found[0]


def _answer_problem(value: str) -> Any:
    key = value.strip().lower().replace("-", "_").replace(" ", "_")
    if key in PROBLEM_TYPES:
        return key
    aliases = _PROBLEM_ALIASES.ids_in(value)
    if aliases:
        return aliases[0]
    found = _read_problem(value)
    if found is None:
        raise _invalid("problem_type", value)
    return found[0]


def _answer_mode(value: str) -> Any:
    modes = _MODE_ANSWERS.ids_in(value)
    if modes:
        return DeploymentMode(modes[0])
    found = _read_mode(value)
    if found is None:
        raise _invalid("deployment_mode", value)
    return found[0]


def _answer_region(value: str) -> Any:
    mentions = _region_mentions(value)
    if not mentions:
        raise _invalid("region", value)
    return mentions[0][0]


def _answer_residency(value: str) -> Any:
    areas = _AREA_ANSWER.ids_in(value)
    if areas:
        return Residency(areas[0])
    if _NONE_ANSWER_RE.match(value) or value.strip().lower() in {"any", "anywhere"}:
        return None
    raise _invalid("data_residency", value)


def _answer_budget(value: str) -> Any:
    found = _read_budget(value)
    if found is not None:
        return found[0]
    bare = _BARE_AMOUNT_RE.match(value)
    amount = _number(bare.group("num")) * _multiplier(bare.group("mult")) if bare else 0.0
    budget = _make_budget(amount, "USD", "month")
    if budget is None:
        raise _invalid("budget", value)
    return budget


def _answer_volume(value: str) -> Any:
    match = _VOLUME_RE.search(value)
    if match is not None:
        return _volume_gb(match)
    bare = _BARE_SIZE_RE.match(value)
    if bare is None:
        raise _invalid("data_volume_gb", value)
    return _number(bare.group("num"))


def _answer_target(value: str) -> Any:
    text = " ".join(value.split()).strip(" .")
    if not text or len(text) > SUMMARY_MAX_CHARS:
        raise _invalid("prediction_target", value)
    found = _read_target(text)
    return found[0] if found else text


def _answer_growth(value: str) -> Any:
    found = _read_growth(value)
    if found is None:
        raise _invalid("data_growth_gb_per_month", value)
    return found[0]


def _answer_latency_p95(value: str) -> Any:
    try:
        return _answer_latency(value)
    except InvalidAnswer:
        raise _invalid("latency_p95_ms", value) from None


def _answer_latency(value: str) -> Any:
    found = _read_latency(value) or _read_latency_p95(value)
    if found is not None:
        return found[0]
    bare = _BARE_LATENCY_RE.match(value)
    latency = _latency_ms(bare) if bare and bare.group("unit") else None
    if bare and not bare.group("unit"):
        latency = round(float(bare.group("num"))) or None
    if latency is None:
        raise _invalid("latency_p99_ms", value)
    return latency


def _answer_throughput(value: str) -> Any:
    found = _read_throughput(value)
    if found is not None:
        return found[0]
    bare = _BARE_THROUGHPUT_RE.match(value)
    if bare is None:
        raise _invalid("throughput_rps", value)
    number = _number(bare.group("num")) * _multiplier(bare.group("mult"))
    rate = _per_second(number, bare.group("unit"))
    if rate <= 0:
        raise _invalid("throughput_rps", value)
    return rate


def _answer_sensitivity(value: str) -> Any:
    if _NONE_ANSWER_RE.match(value):
        return []
    classes: list[DataSensitivity] = []
    for token in _split_list(value):
        present, _, denied = _sensitivity_cues(token)
        words = [DataSensitivity(sid) for word, sid in _SENSITIVITY_WORDS if word in token.lower()]
        if denied or _NONE_ANSWER_RE.match(token):
            classes.extend(present)
        elif present or words:
            classes.extend(present or words[:1])
        else:
            raise _invalid("data_sensitivity", value)
    return [s for s in DataSensitivity if s in classes]


def _answer_token_list(field: str, vocab: _Vocab, value: str, allow_none: bool) -> list[str]:
    """Parse a comma/"and"-separated list: known words are normalised, others slugged."""
    if _NONE_ANSWER_RE.match(value):
        if allow_none:
            return []
        raise _invalid(field, value)
    items: list[str] = []
    for token in _split_list(value):
        known = vocab.ids_in(token)
        if known:
            items.extend(known)
        elif _SLUG_RE.match(token):
            slug = token.strip().replace(" ", "-")
            items.append(slug.upper() if field == "compliance" else slug.lower())
        else:
            raise _invalid(field, value)
    if not items:
        raise _invalid(field, value)
    return list(dict.fromkeys(items))


def _answer_cadence(value: str) -> Any:
    key = value.strip().lower().replace(" ", "_")
    if key in CADENCES:
        return key
    found = _CADENCE_WORDS.ids_in(value)
    if found:
        return found[0]
    if re.fullmatch(r"\s*(?:never|manual(?:ly)?)\s*", value, re.IGNORECASE):
        return "on_demand"
    raise _invalid("retraining_cadence", value)


def _answer_gpu(value: str) -> Any:
    if _FALSE_RE.match(value):
        return False
    if _TRUE_RE.match(value):
        return True
    raise _invalid("gpu_required", value)


_ANSWER_PARSERS: dict[str, Callable[[str], Any]] = {
    "summary": _answer_summary,
    "problem_type": _answer_problem,
    "deployment_mode": _answer_mode,
    "region": _answer_region,
    "data_residency": _answer_residency,
    "budget": _answer_budget,
    "data_volume_gb": _answer_volume,
    "latency_p99_ms": _answer_latency,
    "latency_p95_ms": _answer_latency_p95,
    "data_growth_gb_per_month": _answer_growth,
    "prediction_target": _answer_target,
    "throughput_rps": _answer_throughput,
    "data_sensitivity": _answer_sensitivity,
    "compliance": lambda v: _answer_token_list("compliance", _COMPLIANCE, v, allow_none=True),
    "frameworks": lambda v: _answer_token_list("frameworks", _FRAMEWORKS, v, allow_none=True),
    "retraining_cadence": _answer_cadence,
    "team_skills": lambda v: _answer_token_list("team_skills", _SKILLS, v, allow_none=True),
    "preferred_services": lambda v: _answer_token_list(
        "preferred_services", _SERVICES, v, allow_none=True
    ),
    "gpu_required": _answer_gpu,
}


def parse_answer(field: str, value: str) -> Any:
    """Return the typed value of a user's answer for one constraint field.

    Args:
        field: A field of :class:`ConstraintSchema` listed in ``ANSWERABLE_FIELDS``.
        value: The answer as typed, e.g. ``"$1,500/month"`` or ``"pii, pci"``.

    Returns:
        The value to store in the field (``None`` for "no residency", ``[]`` for "none"
        in list fields).

    Raises:
        InvalidAnswer: if the field is unknown (``expected`` lists the answerable
            fields) or the value cannot be read (``expected`` says what would be).
    """
    parser = _ANSWER_PARSERS.get(field)
    if parser is None or field not in ANSWERABLE_FIELDS:
        raise InvalidAnswer(
            field, value, "one of the answerable fields: " + ", ".join(ANSWERABLE_FIELDS)
        )
    if not isinstance(value, str) or not value.strip():
        raise _invalid(field, str(value))
    return parser(value)


# --------------------------------------------------------------------------- questions

_QUESTIONS: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "deployment_mode": (
        "How will predictions be used: scheduled batch jobs, a real-time endpoint answering "
        "requests, or continuous processing of a data stream?",
        "The serving mode decides the core of the architecture: batch transform jobs, an "
        "always-on endpoint, or a stream processor.",
        ("batch", "real-time", "streaming"),
    ),
    "region": (
        "Which AWS region should the workload run in?",
        "The region decides where the data is stored and processed, which services are "
        "available and what they cost.",
        ("eu-west-1", "us-east-1", "Frankfurt"),
    ),
    "data_volume_gb": (
        "Roughly how much data will the model be trained on today?",
        "Data volume sizes storage, the processing jobs and the training instances.",
        ("40 GB", "2.5 TB", "500 MB"),
    ),
    "budget": (
        "What budget should the workload stay within on AWS?",
        "The planner sizes the architecture to fit the budget and the cost critic checks "
        "the estimate against it.",
        ("$1,500/month", "20000 EUR per year", "£800 a month"),
    ),
    "data_sensitivity": (
        "Does the data contain personal data (PII), health data (PHI) or payment card data (PCI)?",
        "Regulated data switches on customer-managed encryption keys, private networking, "
        "audit logging and PII discovery.",
        ("none", "pii", "pii, pci", "PHI"),
    ),
    "latency_p99_ms": (
        "What p99 latency must predictions meet?",
        "A latency target sizes the serving fleet.",
        ("100 ms", "50ms", "2 seconds"),
    ),
    "problem_type": (
        "What should the model predict, and what kind of ML problem is that?",
        "The prediction target and problem type decide the algorithm, the evaluation metric, "
        "the instance families and what model monitoring watches.",
        (
            "which leads will convert (classification)",
            "next month's sales per store (forecasting)",
            "llm_fine_tuning",
        ),
    ),
    "prediction_target": (
        "What exactly should the model predict?",
        "The target names the label column the pipeline trains and evaluates on.",
        ("whether a customer churns within 30 days", "weekly units sold per store"),
    ),
    "latency_p95_ms": (
        "What p95 latency must predictions meet?",
        "A p95 target is kept apart from the p99 one; the serving fleet is sized for the "
        "stricter of the two.",
        ("80 ms", "200ms", "1 second"),
    ),
    "data_growth_gb_per_month": (
        "How much new data arrives per month?",
        "The ingest rate sizes storage growth and how much each retraining run reads.",
        ("2 TB/month", "50 GB a day", "10 GB per week"),
    ),
    "data_residency": (
        "Must the data stay within a specific geography?",
        "A residency requirement restricts the regions the plan may use.",
        ("EU", "US", "none"),
    ),
    "throughput_rps": (
        "How many predictions per second do you expect at peak?",
        "Peak throughput sizes the serving fleet and its autoscaling.",
        ("200 rps", "50 requests per second", "1M predictions per day"),
    ),
    "compliance": (
        "Which compliance regimes apply to this workload?",
        "Compliance regimes add mandatory controls such as encryption, audit trails and "
        "access reviews.",
        ("GDPR", "HIPAA, SOC 2", "none"),
    ),
    "frameworks": (
        "Which ML frameworks does the team use?",
        "Frameworks decide the training and serving containers.",
        ("xgboost", "pytorch", "scikit-learn, lightgbm"),
    ),
    "retraining_cadence": (
        "How often should the model be retrained?",
        "The retraining cadence sizes the training schedule and its cost.",
        ("weekly", "daily", "on demand"),
    ),
    "team_skills": (
        "Which tools and languages does the team know well?",
        "The plan favours services and tooling the team can operate.",
        ("python, terraform", "python, sql", "kubernetes"),
    ),
    "preferred_services": (
        "Are there AWS services you prefer?",
        "Preferred services are used wherever they fit the workload.",
        ("sagemaker", "serverless, lambda", "none"),
    ),
    "gpu_required": (
        "Does training or inference need GPUs?",
        "GPU instances change the cost of training and serving by an order of magnitude.",
        ("yes", "no"),
    ),
    "summary": (
        "In one line, what should the workload do?",
        "The summary labels the run and its plan.",
        ("Nightly churn scoring for telecom customers",),
    ),
}
"""Default question, reason and answer examples per answerable field."""


def _region_question(c: ConstraintSchema, q: Question) -> Question:
    if c.data_residency is not None:
        allowed = RESIDENCY_REGIONS[c.data_residency.value]
        area = _AREA_NAMES[c.data_residency.value]
        place = f"the {area}" if area in ("EU", "UK", "US") else area.removeprefix("the ")
        return q.model_copy(
            update={
                "question": f"Which {area.removeprefix('the ')} region should the workload run in?",
                "why": f"The data must stay in {place}, so only its regions qualify "
                f"({', '.join(allowed)}); the region also sets prices and service availability.",
                "examples": list(_REGION_EXAMPLES[c.data_residency.value]),
            }
        )
    if "GDPR" in c.compliance:
        return q.model_copy(
            update={
                "why": q.why + " GDPR applies, so an EU region keeps personal data transfers "
                "simple.",
                "examples": ["eu-west-1", "eu-central-1", "Frankfurt"],
            }
        )
    if c.data_sensitivity:
        return q.model_copy(
            update={"why": q.why + " Regulated data may also be bound to a geography."}
        )
    return q


def _latency_question(c: ConstraintSchema, q: Question) -> Question:
    why = q.why
    if c.deployment_mode == DeploymentMode.REAL_TIME:
        load = (
            f" for about {c.throughput_rps:g} requests per second"
            if c.throughput_rps is not None
            else ""
        )
        why = (
            f"Real-time serving needs a latency target: it sizes the endpoint{load} and "
            "decides between serverless and provisioned inference."
        )
    elif c.deployment_mode == DeploymentMode.STREAMING:
        why = "The end-to-end latency target sizes the stream processor and its shards."
    return q.model_copy(update={"why": why})


def _budget_question(c: ConstraintSchema, q: Question) -> Question:
    why = q.why
    if c.gpu_required or c.problem_type == "llm_fine_tuning":
        why += " GPU training usually dominates the bill."
    if c.region:
        why += f" Prices are taken for {c.region}."
    return q.model_copy(update={"why": why})


_REGIME_HINTS: tuple[tuple[str, str], ...] = (
    ("HIPAA", "HIPAA applies, so health data (PHI) is likely."),
    ("PCI-DSS", "PCI DSS applies, so payment card data (PCI) is likely."),
    ("GDPR", "GDPR applies, so personal data (PII) is likely."),
)


def _sensitivity_question(c: ConstraintSchema, q: Question) -> Question:
    hints = [hint for regime, hint in _REGIME_HINTS if regime in c.compliance]
    return q.model_copy(update={"why": " ".join([q.why, *hints])}) if hints else q


def _volume_question(c: ConstraintSchema, q: Question) -> Question:
    if c.deployment_mode == DeploymentMode.STREAMING:
        return q.model_copy(
            update={"question": "How much historical data will the model be trained on?"}
        )
    return q


def _mode_question(c: ConstraintSchema, q: Question) -> Question:
    if c.latency_p99_ms is not None:
        why = f"{q.why} A {c.latency_p99_ms} ms latency target suggests real-time serving."
        return q.model_copy(update={"why": why})
    return q


_QUESTION_ADAPTERS: dict[str, Callable[[ConstraintSchema, Question], Question]] = {
    "region": _region_question,
    "latency_p99_ms": _latency_question,
    "budget": _budget_question,
    "data_sensitivity": _sensitivity_question,
    "data_volume_gb": _volume_question,
    "deployment_mode": _mode_question,
}


def questions_for(constraints: ConstraintSchema, missing: list[str]) -> list[Question]:
    """Return one follow-up question per missing field, in the given order.

    Args:
        constraints: What is already known; reasons and examples adapt to it (a known
            EU residency turns the region question into "which EU region?").
        missing: Field names to ask about; fields that cannot be answered are skipped.

    Returns:
        Questions whose ``examples`` are all accepted by :func:`parse_answer`.
    """
    questions: list[Question] = []
    for field in dict.fromkeys(missing):
        if field not in _QUESTIONS or field not in ANSWERABLE_FIELDS:
            continue
        text, why, examples = _QUESTIONS[field]
        question = Question(field=field, question=text, why=why, examples=list(examples))
        adapter = _QUESTION_ADAPTERS.get(field)
        questions.append(adapter(constraints, question) if adapter else question)
    return questions


# --------------------------------------------------------------------------- feedback

Update = tuple[str, Any, str]
"""A proposed change: (field, new value, source phrase)."""

_FEEDBACK_MODE_RE = re.compile(
    r"\b(?:switch|change|move|convert|go|make|should|must|needs?|use|serve|run|do|turn)\w*\b"
    r"[^.;]{0,30}?\b(?P<mode>batch|real[- ]?time|online|streaming|stream)\b",
    re.IGNORECASE,
)
_RELATIVE_BUDGET_RE = re.compile(
    r"\b(?P<dir>increase|raise|bump|up|add|extend|reduce|cut|lower|decrease|trim|drop|shrink)\w*"
    r"\b[^.;]{0,30}?\bby\s+(?:(?P<pct>\d+(?:\.\d+)?)\s?%|(?P<amount>\S.*))",
    re.IGNORECASE,
)
_DOWN_WORDS = ("reduce", "cut", "lower", "decrease", "trim", "drop", "shrink")


def _covering(sentence: str, phrases: Sequence[str]) -> str:
    """The stretch of ``sentence`` from the first to the last of ``phrases``."""
    spans = [(sentence.find(p), sentence.find(p) + len(p)) for p in phrases if p in sentence]
    if not spans:
        return "; ".join(phrases)
    return sentence[min(lo for lo, _ in spans) : max(hi for _, hi in spans)]


def _feedback_region(sentence: str, current: ConstraintSchema) -> list[Update]:
    mentions = [
        (region, match)
        for region, match in _region_mentions(sentence)
        if not re.search(r"\bfrom\s+$", sentence[max(0, match.start() - 6) : match.start()], re.I)
        and not _negated(sentence, match.start(), match.end())
    ]
    if not mentions:
        return []
    region, match = mentions[-1]
    updates: list[Update] = [("region", region, _region_phrase(sentence, match))]
    implied = _read_residency_from_region(sentence, region, _region_phrase(sentence, match))
    if implied is not None:
        updates.append(("data_residency", implied[0], implied[1]))
    return updates


def _feedback_residency(sentence: str, current: ConstraintSchema) -> list[Update]:
    found = _residency_matches(sentence)
    return [("data_residency", found[0][0], found[0][1].group(0))] if found else []


def _feedback_budget(sentence: str, current: ConstraintSchema) -> list[Update]:
    relative = _RELATIVE_BUDGET_RE.search(sentence)
    if relative and current.budget is not None:
        old = current.budget
        sign = -1.0 if relative.group("dir").lower().startswith(_DOWN_WORDS) else 1.0
        if relative.group("pct"):
            factor = 1.0 + sign * float(relative.group("pct")) / 100.0
        else:
            delta = _read_budget(relative.group("amount"))
            if delta is None:
                return []
            factor = 1.0 + sign * delta[0].monthly_usd / old.monthly_usd
        budget = _make_budget(old.amount * factor, old.currency, old.period)
        return [("budget", budget, relative.group(0))] if budget else []
    found = _read_budget(sentence)
    return [("budget", found[0], found[1])] if found else []


def _feedback_mode(sentence: str, current: ConstraintSchema) -> list[Update]:
    for match in _FEEDBACK_MODE_RE.finditer(sentence):
        if _negated(sentence, match.start("mode"), match.end("mode")):
            continue
        mode = _MODE_ANSWERS.ids_in(match.group("mode"))[0]
        return [("deployment_mode", DeploymentMode(mode), match.group(0))]
    return []


def _scalar_feedback(
    field: str, reader: Callable[[str], Found | None]
) -> Callable[[str, ConstraintSchema], list[Update]]:
    def detect(sentence: str, current: ConstraintSchema) -> list[Update]:
        found = reader(sentence)
        return [(field, found[0], found[1])] if found else []

    return detect


def _feedback_sensitivity(sentence: str, current: ConstraintSchema) -> list[Update]:
    classes, phrases, denied = _sensitivity_cues(sentence)
    existing = list(current.data_sensitivity or [])
    if classes:
        merged = [s for s in DataSensitivity if s in existing or s in classes]
        return [("data_sensitivity", merged, _covering(sentence, phrases))]
    if denied and existing:
        kept = [s for s in existing if s.value not in denied]
        return [("data_sensitivity", kept, sentence)]
    none = _NO_SENSITIVE_RE.search(sentence)
    return [("data_sensitivity", [], none.group(0))] if none else []


def _list_feedback(field: str, vocab: _Vocab) -> Callable[[str, ConstraintSchema], list[Update]]:
    """Add mentioned ids to a list field; negated mentions ("drop GDPR") remove them."""

    def detect(sentence: str, current: ConstraintSchema) -> list[Update]:
        items = list(getattr(current, field))
        phrases: list[str] = []
        for entry_id, match in vocab.finditer(sentence):
            phrases.append(match.group(0))
            if _negated(sentence, match.start(), match.end()):
                items = [item for item in items if item != entry_id]
            elif entry_id not in items:
                items.append(entry_id)
        return [(field, items, _covering(sentence, phrases))] if phrases else []

    return detect


def _feedback_services(sentence: str, current: ConstraintSchema) -> list[Update]:
    preferred, avoided = _read_services(sentence)
    if not preferred and not avoided:
        return []
    new_preferred = [s for s in current.preferred_services if s not in avoided]
    new_preferred += [s for s in preferred if s not in new_preferred]
    new_avoided = [s for s in current.avoided_services if s not in preferred]
    new_avoided += [s for s in avoided if s not in new_avoided]
    phrase = _covering(sentence, [*preferred.values(), *avoided.values()])
    return [
        ("preferred_services", new_preferred, phrase),
        ("avoided_services", new_avoided, phrase),
    ]


def _feedback_skills(sentence: str, current: ConstraintSchema) -> list[Update]:
    found = _read_skills(sentence)
    if found is None:
        return []
    merged = list(dict.fromkeys([*current.team_skills, *found[0]]))
    return [("team_skills", merged, found[1])]


_FEEDBACK_DETECTORS: tuple[Callable[[str, ConstraintSchema], list[Update]], ...] = (
    _feedback_region,
    _feedback_residency,
    _feedback_budget,
    _feedback_mode,
    _scalar_feedback("data_volume_gb", _read_volume),
    _scalar_feedback("latency_p99_ms", _read_latency),
    _scalar_feedback("throughput_rps", _read_throughput),
    _scalar_feedback("retraining_cadence", _read_cadence),
    _scalar_feedback("gpu_required", _read_gpu),
    _scalar_feedback("use_spot_training", _read_spot),
    _scalar_feedback("high_availability", _read_ha),
    _feedback_sensitivity,
    _list_feedback("compliance", _COMPLIANCE),
    _list_feedback("frameworks", _FRAMEWORKS),
    _feedback_services,
    _feedback_skills,
)
"""What an approver's sentence can change, in the order the changes are reported."""


def _plain(value: Any) -> Any:
    """A JSON-friendly copy of a field value, for change records and comparisons."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _sentence_updates(sentence: str, current: ConstraintSchema) -> dict[str, Update]:
    """The effective updates of one sentence, one per field (the last proposal wins)."""
    updates: dict[str, Update] = {}
    for detect in _FEEDBACK_DETECTORS:
        for field, new, phrase in detect(sentence, current):
            if _plain(new) != _plain(getattr(current, field)):
                updates[field] = (field, new, phrase)
    return updates


def apply_feedback(
    comment: str, constraints: ConstraintSchema
) -> tuple[ConstraintSchema, FeedbackResult]:
    """Apply an approver's comment to the constraints.

    Each sentence of the comment is read on its own ("use spot instances for training",
    "move to eu-west-1", "budget is now $800/month", "avoid EMR", ...). The input model is
    never mutated.

    Args:
        comment: The approver's free-text comment.
        constraints: The constraints the plan was built from.

    Returns:
        The updated, validated constraints and a :class:`FeedbackResult` listing one
        :class:`ConstraintChange` per changed field and the sentences that changed nothing.
    """
    current = constraints
    changes: list[ConstraintChange] = []
    unrecognised: list[str] = []
    for sentence in _sentences(comment or ""):
        updates = _sentence_updates(sentence, current)
        if not updates:
            unrecognised.append(sentence)
            continue
        for field, new, phrase in updates.values():
            old = _plain(getattr(current, field))
            changes.append(ConstraintChange(field=field, old=old, new=_plain(new), source=phrase))
        current = current.model_copy(update={field: new for field, new, _ in updates.values()})
    validated = ConstraintSchema.model_validate(current.model_dump())
    return validated, FeedbackResult(changes=changes, unrecognised=unrecognised)
