"""Keyword-to-prompt generator: WordNet words -> candidate prompts -> CLIP ranking -> p*.

For a class (``metal_nut``) and k shots x_1..x_k of it:

1. keyword: ``resolve_keyword`` ("metal nut"; table, override or the normalised name);
2. related words W_1..W_T: :func:`tvig.prompting.expansion.expand` (WordNet, with relation and synset);
3. candidates: every template (``configs/prompt_templates.txt``, data) filled with the keyword
   and, where it has ``{w}``, each matching related word; duplicates removed;
4. score: s(P) = cos(E_txt(P), mean_k E_img(x_k)), all texts in batches, the images once;
5. p* = the best-scoring candidate; the ranking is sorted (score desc, then prompt text).

Example:
    >>> from tvig.models.clip import load_clip
    >>> from tvig.profiles import get_profile
    >>> sel = select_prompt("metal_nut", x, load_clip(get_profile("tiny")))   # doctest: +SKIP
    >>> sel.prompt, sel.ranking[0].relation                                    # doctest: +SKIP
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import torch

from tvig import atomic
from tvig.errors import ConfigError, InputError
from tvig.generator.guidance import shot_center
from tvig.images import load_images
from tvig.models.clip import embed_images
from tvig.paths import PACKAGE_DATA, RunPaths
from tvig.profiles import RANDOM_WEIGHTS_BANNER
from tvig.prompting.captioning import caption_images
from tvig.prompting.expansion import Expansion, RelatedWord, expand
from tvig.prompting.keywords import KeywordEntry, normalise_keyword, resolve_keyword

TEMPLATES_FILE = PACKAGE_DATA / "prompt_templates.txt"


@dataclass(frozen=True)
class Template:
    text: str  # "a photo of a {w} {kw}"
    tags: tuple[str, ...] = ()  # which words it takes ("a", "hypernym", "gloss+n"); () = all

    def accepts(self, w: RelatedWord) -> bool:
        have = {w.pos, w.relation}
        return not self.tags or any(set(t.split("+")) <= have for t in self.tags)


@dataclass
class PromptRow:
    prompt: str
    word: str  # the related word in it ("" for keyword-only templates)
    relation: str  # synonym | hypernym | hyponym | attribute | gloss | keyword | baseline | caption
    synset: str
    template: str
    score: float = float("nan")


def parse_templates(lines: Sequence[str]) -> list[Template]:
    """Template lines (``[tags] text``; ``#`` comments) -> :class:`Template` list."""
    out = []
    for raw in lines:
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        m = re.match(r"\[([^\]]*)\]\s*(.+)", line)
        tags, text = ((tuple(t.strip() for t in m.group(1).split(",") if t.strip()), m.group(2))
                      if m else ((), line))
        if "{kw}" not in text and "{w}" not in text:
            raise ConfigError(f"prompt template {line!r} has neither {{kw}} nor {{w}}")
        out.append(Template(text, tags))
    if not out:
        raise ConfigError("no prompt templates given (empty list or file)")
    return out


def load_templates(path: "str | os.PathLike[str]" = TEMPLATES_FILE) -> list[Template]:
    """Templates from a text file (one per line); default: tvig's packaged list."""
    p = Path(path)
    if not p.is_file():
        raise ConfigError(f"prompt template file not found: {p}")
    return parse_templates(p.read_text(encoding="utf-8").splitlines())


def _article(text: str) -> str:
    return re.sub(r"\b([Aa]) (?=[aeiouAEIOU])", lambda m: m.group(1) + "n ", text)


def build_candidates(keyword: str, words: Sequence[RelatedWord],
                     templates: "Sequence[Template | str] | None" = None) -> list[PromptRow]:
    """Fill templates with the keyword and related words; de-duplicated, first kept."""
    tmpl = [t if isinstance(t, Template) else parse_templates([t])[0]
            for t in (templates if templates is not None else load_templates())]
    rows: dict[str, PromptRow] = {}
    for t in tmpl:
        if "{w}" not in t.text:
            p = _article(t.text.format(kw=keyword))
            rows.setdefault(p, PromptRow(p, "", "keyword", "", t.text))
            continue
        for w in words:
            if t.accepts(w):
                p = _article(t.text.format(kw=keyword, w=w.word))
                rows.setdefault(p, PromptRow(p, w.word, w.relation, w.synset, t.text))
    return list(rows.values())


def prepare_shots(shots: "torch.Tensor | Sequence[str | os.PathLike[str]]", profile) -> torch.Tensor:
    """The one preparation of the shots for CLIP, shared by ``tvig prompts``, generation and
    scoring: loaded at ``profile.image_size`` (as the generator sees them); CLIP's own
    :meth:`~tvig.models.clip.Clip.normalize` then resizes them to its input."""
    return shots_tensor(shots, profile.image_size)


def shots_tensor(shots: "torch.Tensor | Sequence[str | os.PathLike[str]]", size: int) -> torch.Tensor:
    """Shots as a (k, 3, H, W) tensor in [0, 1]; paths are loaded; none is an error."""
    if isinstance(shots, torch.Tensor):
        if shots.ndim == 3:
            shots = shots.unsqueeze(0)
        if shots.ndim != 4 or shots.shape[1] != 3:
            raise InputError(f"shots must be a (k, 3, H, W) tensor, got {tuple(shots.shape)}")
        if shots.shape[0] == 0:
            raise InputError("no shot images: the prompt is scored against the mean embedding of "
                             "the k input images, so pass at least one image")
        return shots
    if not shots:
        raise InputError("no shot images: pass at least one image file or folder "
                         "(e.g. --images data/metal_nut/train/good/000.png)")

    return load_images(list(shots), size=size)[0]


def image_target(clip, shots: torch.Tensor) -> torch.Tensor:
    """mean_k E_img(x_k), re-normalised: (D,). One image pass (:func:`embed_images`)."""
    return shot_center(embed_images(clip, shots)).to(clip.device)


@torch.no_grad()
def score_prompts(clip, prompts: Sequence[str], target: torch.Tensor,
                  batch_size: int = 256) -> torch.Tensor:
    """s(P) = cos(E_txt(P), target) for every prompt: (T,). Texts encoded in batches."""
    txt = clip.encode_texts(list(prompts), batch_size=batch_size)  # (T, D) unit vectors
    return txt @ target.to(txt)


def rank(rows: Sequence[PromptRow], scores: torch.Tensor) -> list[PromptRow]:
    """Attach scores and sort: score descending, then prompt text (deterministic ties)."""
    for r, s in zip(rows, scores.tolist()):
        r.score = float(s)
    return sorted(rows, key=lambda r: (-r.score, r.prompt))


@dataclass
class PromptSelection:
    prompt: str  # p*
    keyword: str
    category: str
    ranking: list[PromptRow]  # every candidate, best first
    expansion: Expansion
    comparison: list[PromptRow] = field(default_factory=list)  # bare kw, photo-of, caption
    notes: list[str] = field(default_factory=list)
    profile: str = ""
    random_weights: bool = False
    n_shots: int = 0

    @property
    def score(self) -> float:
        return self.ranking[0].score

    def to_dict(self) -> dict[str, Any]:
        d = dict(prompt=self.prompt, keyword=self.keyword, category=self.category,
                 score=self.score, ranking=[asdict(r) for r in self.ranking],
                 comparison=[asdict(r) for r in self.comparison], notes=self.notes,
                 senses=[asdict(s) for s in self.expansion.senses], chosen=self.expansion.chosen,
                 profile=self.profile, random_weights=self.random_weights, n_shots=self.n_shots)
        if self.random_weights:
            d["warning"] = RANDOM_WEIGHTS_BANNER
        return d

    def save(self, run_root: "str | os.PathLike[str]") -> Path:
        """Write ``RunPaths(run_root).prompt_json`` atomically; returns its path."""

        path = RunPaths(run_root).prompt_json
        atomic.write_json(path, self.to_dict())
        return path


def comparison_rows(keyword: str, captions: Sequence[str] | None = None) -> list[PromptRow]:
    """The paper's preliminary-experiment prompts: bare keyword, "a photo of a {kw}", captions."""
    rows = [PromptRow(keyword, "", "baseline", "", "{kw}"),
            PromptRow(_article(f"a photo of a {keyword}"), "", "baseline", "", "a photo of a {kw}")]
    rows += [PromptRow(c, "", "caption", "", "BLIP caption") for c in dict.fromkeys(captions or [])]
    return rows


def select_prompt(category: str, shots: "torch.Tensor | Sequence[str | os.PathLike[str]]", clip, *,
                  dataset: str | None = None, keyword: "str | KeywordEntry | None" = None,
                  overrides: Mapping[str, str] | None = None,
                  templates: "Sequence[Template | str] | None" = None, profile=None,
                  captions: "bool | Sequence[str]" = False, batch_size: int = 256,
                  expansion: Expansion | None = None) -> PromptSelection:
    """Rank the candidate prompts of ``category`` against the shots; p* is the best.

    ``keyword`` overrides the table; ``captions=True`` adds a BLIP caption to the comparison
    rows when BLIP is cached (a note otherwise), a list uses those captions, False (default)
    none. ``shots``: a (k, 3, H, W) tensor in [0, 1] or image paths; none is an InputError.
    """
    entry = resolve_keyword(category, dataset, overrides, keyword=keyword)
    # (k, 3, S, S); errors before any model work. Paths are loaded at the profile's size,
    # exactly as tvig generate loads them, so both select the same prompt
    x = (prepare_shots(shots, profile) if profile is not None
         else shots_tensor(shots, clip.image_size))
    exp = expansion if expansion is not None else expand(entry.keyword, entry.hints)
    rows = build_candidates(entry.keyword, exp.words, templates)
    notes = list(exp.notes)
    if captions is True:

        caps, note = caption_images(x, device=clip.device)
        notes.append(note)
    else:
        caps = list(captions) if captions else None
    comp = comparison_rows(entry.keyword, caps)
    target = image_target(clip, x)  # (D,)
    scores = score_prompts(clip, [r.prompt for r in rows + comp], target, batch_size)
    ranking = rank(rows, scores[:len(rows)])
    comp = rank(comp, scores[len(rows):])
    return PromptSelection(ranking[0].prompt, entry.keyword, category, ranking, exp, comp, notes,
                           getattr(profile, "name", "") or "",
                           bool(getattr(profile, "random_weights", False)), int(x.shape[0]))


def load_prompt(run_root: "str | os.PathLike[str]", keyword: str | None = None,
                prompt: str | None = None, *, missing: str = "template") -> tuple["str | None", str]:
    """The one reader of a run folder's prompt.json: (p*, where it came from).

    ``prompt`` if given, else prompt.json's p* (notebook 01 / ``tvig prompts``). Missing or
    unreadable: ``missing="template"`` gives "a photo of a {keyword}" with a note (without a
    keyword an :class:`InputError`); ``missing="select"`` gives (None, note) so that
    :func:`tvig.pipeline.generate` selects the prompt itself, as notebook 01 would.
    """
    if prompt:
        return prompt, "parameter"
    path = RunPaths(run_root).prompt_json
    problem = f"{path} not found (notebook 01 not run)"
    if path.is_file():
        try:
            p = json.loads(path.read_text())["prompt"]
            if isinstance(p, str) and p.strip():
                return p, f"prompt from {path}"
        except (ValueError, KeyError, TypeError):
            pass
        problem = f"{path} is unreadable (rerun notebook 01)"
    if missing == "select":
        return None, f"{problem}: the prompt is selected now with WordNet + CLIP"
    if keyword is None:
        raise InputError(f"no prompt: {problem}; run notebook 01 / tvig prompts first, or pass "
                         "a keyword")
    kw = normalise_keyword(keyword)
    return _article(f"a photo of a {kw}"), f"{problem}: using the plain template prompt"


def format_ranking(rows: Sequence[PromptRow], top: int | None = None) -> str:
    """A plain-text table (rank, score, relation, word, prompt) of the first ``top`` rows."""
    rows = list(rows)[:top] if top else list(rows)
    lines = [f"{'#':>3}  {'score':>7}  {'relation':<10} {'word':<18} prompt"]
    lines += [f"{i:>3}  {r.score:7.4f}  {r.relation:<10} {r.word[:18]:<18} {r.prompt}"
              for i, r in enumerate(rows, 1)]
    return "\n".join(lines)
