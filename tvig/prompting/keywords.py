"""Class names -> keywords: normalisation and a per-dataset keyword table (user-overridable).

Dataset class names are folder names (``metal_nut``, BTAD's ``01``, LOCO's ``screw_bag``); the
prompt generator needs words. :func:`normalise_keyword` turns a folder name into words, and
:data:`KEYWORDS` maps each known class to a :class:`KeywordEntry`: the keyword itself plus
optional *hints*, extra words that only steer the WordNet sense choice (``pill`` + "medicine"
picks the tablet, not the unpleasant person). The BTAD products are anonymous in the dataset;
their words below are our reading of the images, not an official naming: override them.

Example:
    >>> normalise_keyword("metal_nut")
    'metal nut'
    >>> resolve_keyword("01", dataset="btad").keyword
    'textured block'
    >>> canonical_dataset("mvtec_loco_anomaly_detection")
    'mvtec_loco'
    >>> resolve_keyword("01", overrides={"01": "wooden board"}).keyword
    'wooden board'
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Mapping

from tvig.errors import ConfigError, choices_text


@dataclass(frozen=True)
class KeywordEntry:
    """A class's keyword (words, spaces) and optional sense hints (never part of prompts)."""

    keyword: str
    hints: tuple[str, ...] = ()
    category: str = ""  # the dataset class name it came from
    source: str = "table"  # "table" | "override" | "normalised"


def normalise_keyword(name: str) -> str:
    """``metal_nut`` / ``Metal-Nut`` / `` metal  nut `` -> ``metal nut``."""
    if not isinstance(name, str) or not name.strip():
        raise ConfigError(f"keyword must be a non-empty string, got {name!r}")
    words = re.sub(r"[_\-\s]+", " ", name.strip().lower()).strip()
    return words


def _e(keyword: str, *hints: str) -> KeywordEntry:
    return KeywordEntry(keyword, tuple(hints))


# dataset -> class name -> entry. Hints name words that appear in the intended WordNet sense's
# gloss, hypernyms or lexicographer file (e.g. "food" for noun.food).
KEYWORDS: dict[str, dict[str, KeywordEntry]] = {
    "mvtec_ad": {
        "bottle": _e("bottle", "drinks"),
        "cable": _e("cable", "electric"),
        "capsule": _e("capsule", "medicine"),
        "carpet": _e("carpet", "floor"),
        "grid": _e("grid", "metal"),
        "hazelnut": _e("hazelnut", "food"),
        "leather": _e("leather"),
        "metal_nut": _e("metal nut"),  # sense found from "metal" alone (nut.n.03, the fastener)
        "pill": _e("pill", "medicine", "dose"),
        "screw": _e("screw", "fastener"),
        "tile": _e("tile", "slab"),
        "toothbrush": _e("toothbrush", "brush"),
        "transistor": _e("transistor", "semiconductor"),
        "wood": _e("wood", "substance"),
        "zipper": _e("zipper", "fastener"),
    },
    "btad": {  # anonymous products; our reading of the images (override for your use)
        "01": _e("textured block", "artifact"),
        "02": _e("textured surface", "artifact"),
        "03": _e("metal plate", "metal"),
    },
    "mvtec_loco": {
        "breakfast_box": _e("breakfast box", "container"),
        "juice_bottle": _e("juice bottle", "drinks"),
        "pushpins": _e("pushpin", "tack"),
        "screw_bag": _e("screw bag", "container"),
        "splicing_connectors": _e("splicing connector", "connects"),
    },
    "sample": {  # tvig's embedded sample classes (tvig.detection.sample_data)
        "brick": _e("brick", "building"),
        "gravel": _e("gravel", "rock"),
        "metal_nut": _e("metal nut"),
    },
}


def datasets() -> list[str]:
    return list(KEYWORDS)


def canonical_dataset(name: str | None) -> str | None:
    """A dataset name or root-folder name -> its keyword table (None: search every table).

    ``"mvtec_loco_anomaly_detection"`` -> ``mvtec_loco``, ``"BTech_Dataset"`` -> ``btad``,
    ``"MVTec"`` -> ``mvtec_ad``, ``"sample"`` -> ``sample``, ``"my_parts"`` -> None.
    """
    if not name:
        return None
    n = name.lower()
    if n in KEYWORDS:
        return n
    for key, table in (("loco", "mvtec_loco"), ("btad", "btad"), ("btech", "btad"),
                       ("mvtec", "mvtec_ad")):
        if key in n:
            return table
    return None


def resolve_keyword(category: str, dataset: str | None = None,
                    overrides: Mapping[str, "str | KeywordEntry"] | None = None, *,
                    keyword: "str | KeywordEntry | None" = None) -> KeywordEntry:
    """The keyword for a class: ``keyword`` > user override > dataset table > normalised name.

    ``dataset=None`` searches every table (first match). ``overrides`` maps class names (or
    normalised keywords) to a keyword string or a :class:`KeywordEntry`; ``keyword`` (typed by
    the user for this one call) beats them all.

    >>> resolve_keyword("01", "btad", keyword="wooden_board").source
    'override'
    """
    if isinstance(keyword, KeywordEntry):
        return keyword
    if keyword and keyword.strip():
        return KeywordEntry(normalise_keyword(keyword), (), category, "override")
    if dataset is not None and dataset not in KEYWORDS:
        raise ConfigError(choices_text("dataset", dataset, list(KEYWORDS)))
    if overrides:
        for key in (category, normalise_keyword(category)):
            if key in overrides:
                o = overrides[key]
                if isinstance(o, KeywordEntry):
                    return KeywordEntry(normalise_keyword(o.keyword), o.hints, category, "override")
                return KeywordEntry(normalise_keyword(o), (), category, "override")
    tables = [KEYWORDS[dataset]] if dataset else list(KEYWORDS.values())
    for table in tables:
        if category in table:
            e = table[category]
            return KeywordEntry(e.keyword, e.hints, category, "table")
    return KeywordEntry(normalise_keyword(category), (), category, "normalised")


def set_keyword(dataset: str, category: str, keyword: str, hints: tuple[str, ...] = ()) -> None:
    """Change (or add) a table entry for this session, e.g. ``set_keyword("btad", "01", "wood")``."""
    KEYWORDS.setdefault(dataset, {})[category] = KeywordEntry(normalise_keyword(keyword),
                                                              tuple(hints))


def all_categories() -> list[tuple[str, str]]:
    """Every (dataset, class) pair in the table, in table order."""
    return [(d, c) for d, t in KEYWORDS.items() for c in t]
