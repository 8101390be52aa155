"""WordNet expansion of a keyword into related words W_1..W_T, each with relation and synset.

Steps (DESIGN.md, "Keyword-to-prompt generator"):

1. look the keyword up as a noun ("metal nut" -> ``metal_nut``); a multi-word keyword with no
   synset falls back to its head noun (the last word: "nut");
2. choose the sense: every noun sense gets a score: +2 per *context word* (the keyword's other
   words and the table's hints) found in its gloss, lemmas, hypernyms or lexicographer file,
   +1 if it is a made object (``noun.artifact``), and a small penalty for rarer senses. For
   "metal nut" only nut.n.03, "a small ... metal block with internal screw thread", mentions
   "metal": the fastener wins over the fruit, the goddess and the eccentric;
3. collect related words (never the generic tops in :data:`GENERIC`): synonyms (lemmas of the sense), hypernyms (depth 1 and 2), hyponyms
   (depth 1), attributes (adjectives derivationally related to the keyword's words, the sense
   and its hypernyms: metal -> metallic) and gloss words (content words of the definition).

A keyword WordNet does not know gives an :class:`Expansion` with no words and one note
(``Expansion.notes``, shown once by the caller; no Python warning, which would print the same
text a second time): the caller still has the template prompts.

Example:
    >>> e = expand("metal nut")                           # doctest: +SKIP
    >>> e.chosen, sorted(e.relations())                   # doctest: +SKIP
    (['nut.n.03'], ['attribute', 'gloss', 'hypernym', 'hyponym'])
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from tvig.prompting.wordnet import get_wordnet

RELATIONS = ("synonym", "hypernym", "hyponym", "attribute", "gloss")
CONTEXT_WEIGHT = 2.0  # per context word the sense mentions
ARTIFACT_BONUS = 1.0  # industrial products are made objects
RANK_PENALTY = 0.05  # per position in WordNet's sense order (frequency order)
# WordNet's top-level hypernyms say nothing about how a product looks: never used as words.
GENERIC = frozenset({"entity", "physical entity", "object", "whole", "unit", "artifact",
                     "artefact", "instrumentality", "instrumentation", "thing", "matter",
                     "abstraction", "stuff", "material", "substance"})
_STOP = frozenset("""a an the of or and to be by in on at for with from as into onto its it
that this which who whom whose than then used use using usually often especially any some
several one two three other such e g etc very more most not no can may has have having made
make is are was were been being part kind type sort form piece something someone under over
inside outside together means within between""".split())


@dataclass(frozen=True)
class RelatedWord:
    word: str  # display form, spaces: "hex nut"
    relation: str  # one of RELATIONS
    synset: str  # the synset it came from: "nut.n.03"
    pos: str = "n"  # "n" noun-like or "a" adjective-like (chooses templates)
    depth: int = 1  # hypernym depth (1 or 2); 1 otherwise


@dataclass(frozen=True)
class SenseScore:
    synset: str
    score: float
    lexname: str
    definition: str
    reasons: tuple[str, ...]


@dataclass
class Expansion:
    keyword: str  # "metal nut"
    lookup: str  # what was found in WordNet: "nut" ("" when nothing)
    senses: list[SenseScore]  # every noun sense of ``lookup``, best first
    chosen: list[str]  # synset names the words come from
    words: list[RelatedWord]
    notes: list[str] = field(default_factory=list)

    def relations(self) -> set[str]:
        return {w.relation for w in self.words}

    def by_relation(self) -> dict[str, list[RelatedWord]]:
        return {r: [w for w in self.words if w.relation == r] for r in RELATIONS}


def _words(text: str) -> list[str]:
    return re.findall(r"[a-z][a-z\-]*", text.lower())


def _base(wn, word: str) -> str:
    return wn.morphy(word, "n") or wn.morphy(word) or word


def _display(lemma: str) -> str:
    return lemma.replace("_", " ").lower()


def _sense_bag(wn, s) -> set[str]:
    """Base forms of every word that describes the sense: gloss, examples, lemmas,
    hypernyms (two levels) and the lexicographer file name (noun.food -> food)."""
    text = [s.definition(), *s.examples(), *s.lemma_names(), s.lexname().split(".")[-1]]
    for h in s.hypernyms():
        text += [*h.lemma_names(), h.definition()]
        text += [n for h2 in h.hypernyms() for n in h2.lemma_names()]
    return {_base(wn, w) for t in text for w in _words(t.replace("_", " "))}


def score_senses(wn, synsets: Sequence, context: Iterable[str]) -> list[SenseScore]:
    """Score noun senses against context words; best first (ties keep WordNet's order)."""
    ctx = [(c, _base(wn, c)) for c in dict.fromkeys(w for c in context for w in _words(c))]
    scored = []
    for i, s in enumerate(synsets):
        bag = _sense_bag(wn, s)
        hits = [c for c, b in ctx if b in bag or c in bag]
        artifact = s.lexname() == "noun.artifact"
        score = CONTEXT_WEIGHT * len(hits) + ARTIFACT_BONUS * artifact - RANK_PENALTY * i
        reasons = tuple([f"mentions {h!r}" for h in hits] + (["artifact"] if artifact else [])
                        + [f"sense #{i + 1}"])
        scored.append((-score, i, SenseScore(s.name(), round(score, 4), s.lexname(),
                                             s.definition(), reasons)))
    return [t[2] for t in sorted(scored, key=lambda t: (t[0], t[1]))]


def _lookup(wn, keyword: str) -> tuple[str, list]:
    words = keyword.split()
    candidates = ["_".join(words)] + ([words[-1]] if len(words) > 1 else [])
    for c in candidates:
        found = wn.synsets(c, pos="n")
        if found:
            return _display(c), found
    return "", []


_PERTAINYM_SUFFIXES = ("al", "ic", "ical", "ar", "ary", "ous", "an", "ine", "y", "en")


def _pertainyms_of(wn, lem) -> list[str]:
    """Adjectives whose WordNet pertainym is ``lem`` (cylinder -> cylindrical). nltk has no
    reverse index, so likely spellings are tried and kept only when the pertainym link exists."""
    stem = lem.name().lower()
    found = []
    for suf in _PERTAINYM_SUFFIXES:
        for cand in {stem + suf, stem.rstrip("e") + suf, stem.rstrip("y") + "i" + suf}:
            for a in wn.lemmas(cand, pos="a"):
                if any((p.synset(), p.name()) == (lem.synset(), lem.name())
                       for p in a.pertainyms()):
                    found.append(a.name())
    return found


def _adjectives_of(wn, lemmas: Iterable) -> list[tuple[str, str]]:
    """(adjective, source synset) derived from the lemmas: derivationally related adjectives
    (metal -> metallic) and adjectives pertaining to them (cylinder -> cylindrical)."""
    out = []
    for lem in lemmas:
        for d in lem.derivationally_related_forms():
            if d.synset().pos() in ("a", "s"):
                out.append((_display(d.name()), lem.synset().name()))
        out += [(_display(a), lem.synset().name()) for a in _pertainyms_of(wn, lem)]
    return out


def _gloss_words(wn, s, exclude: set[str], limit: int) -> list[RelatedWord]:
    out = []
    for w in dict.fromkeys(_words(s.definition())):
        if w in _STOP or w in exclude or len(w) < 3:
            continue
        counts = {}
        for pos in ("n", "a"):
            syns = wn.synsets(w, pos=pos)
            if syns:
                counts[pos] = sum(l.count() for x in syns for l in x.lemmas()) + 1
        if counts:
            pos = max(counts, key=lambda p: (counts[p], p == "n"))
            out.append(RelatedWord(w, "gloss", s.name(), "a" if pos == "a" else "n"))
        if len(out) >= limit:
            break
    return out


def expand(keyword: str, hints: Sequence[str] = (), *, n_senses: int = 1, max_hyponyms: int = 8,
           max_gloss: int = 8, wn=None) -> Expansion:
    """Related words of ``keyword`` (already normalised, e.g. "metal nut") from WordNet."""
    if wn is None:

        wn = get_wordnet()
    lookup, synsets = _lookup(wn, keyword)
    if not synsets:
        note = (f"keyword {keyword!r} (and its head noun) is not in WordNet: no related words; "
                "using the template prompts with the keyword only. Pass another keyword "
                "(--keyword / overrides) for a richer candidate list.")
        return Expansion(keyword, "", [], [], [], [note])
    notes = [] if lookup == keyword else [f"{keyword!r} has no synset; using its head noun "
                                          f"{lookup!r}"]
    modifiers = [w for w in keyword.split() if w not in lookup.split()]  # "metal"
    senses = score_senses(wn, synsets, modifiers + list(hints))
    chosen = [wn.synset(s.synset) for s in senses[:max(1, n_senses)]]
    own = set(keyword.split()) | set(lookup.split()) | {keyword, lookup}
    words: list[RelatedWord] = []
    for s in chosen:
        words += [RelatedWord(_display(n), "synonym", s.name()) for n in s.lemma_names()]
        hyper1 = s.hypernyms() + s.instance_hypernyms()
        for h in hyper1:
            words += [RelatedWord(_display(n), "hypernym", h.name(), depth=1)
                      for n in h.lemma_names()[:3]]
        for h2 in (x for h in hyper1 for x in h.hypernyms()):
            words += [RelatedWord(_display(n), "hypernym", h2.name(), depth=2)
                      for n in h2.lemma_names()[:2]]
        hypos = sorted(s.hyponyms(), key=lambda x: (-sum(l.count() for l in x.lemmas()), x.name()))
        words += [RelatedWord(_display(h.lemma_names()[0]), "hyponym", h.name())
                  for h in hypos[:max_hyponyms]]
        modifier_lemmas = [l for w in modifiers for l in wn.lemmas(w, pos="n")]
        sources = [l for l in modifier_lemmas + s.lemmas() + [l for h in hyper1 for l in h.lemmas()]
                   if _display(l.name()) not in GENERIC]
        words += [RelatedWord(a, "attribute", src, "a") for a, src in _adjectives_of(wn, sources)]
        words += _gloss_words(wn, s, own, max_gloss)
    seen, unique = set(own) | GENERIC, []
    for w in words:
        if w.word not in seen:
            seen.add(w.word)
            unique.append(w)
    return Expansion(keyword, lookup, senses, [s.name() for s in chosen], unique, notes)
