"""Keyword-to-prompt generator: keywords, WordNet expansion, candidates, CLIP ranking, CLI."""
import json

import pytest
import torch
import torch.nn.functional as F

from tvig.errors import ConfigError, InputError
from tvig.prompting.expansion import GENERIC, RelatedWord, expand
from tvig.prompting.keywords import KEYWORDS, normalise_keyword, resolve_keyword
from tvig.prompting.ranking import (
    Template,
    build_candidates,
    load_prompt,
    load_templates,
    parse_templates,
    select_prompt,
)


@pytest.fixture(scope="module")
def clip(tiny):
    from tvig.models.clip import load_clip

    return load_clip(tiny)


@pytest.fixture(scope="module")
def shots(sample_root):
    from tvig.images import load_images

    files = sorted((sample_root / "metal_nut" / "train" / "good").glob("*.png"))[:2]
    return load_images(files, size=64)[0]  # (2, 3, 64, 64)


# --- keywords -------------------------------------------------------------------------------

def test_normalise_keyword():
    assert normalise_keyword("metal_nut") == "metal nut"
    assert normalise_keyword("  Metal-Nut ") == "metal nut"
    assert normalise_keyword("screw_bag") == "screw bag"
    with pytest.raises(ConfigError):
        normalise_keyword("  ")


def test_keyword_table_covers_the_three_datasets():
    mvtec = {"bottle", "cable", "capsule", "carpet", "grid", "hazelnut", "leather", "metal_nut",
             "pill", "screw", "tile", "toothbrush", "transistor", "wood", "zipper"}
    assert set(KEYWORDS["mvtec_ad"]) == mvtec
    assert set(KEYWORDS["btad"]) == {"01", "02", "03"}
    assert set(KEYWORDS["mvtec_loco"]) == {"breakfast_box", "juice_bottle", "pushpins",
                                           "screw_bag", "splicing_connectors"}
    assert resolve_keyword("pushpins").keyword == "pushpin"
    assert resolve_keyword("01", dataset="btad").keyword != "01"


def test_keyword_override_and_unknown_class():
    e = resolve_keyword("01", dataset="btad", overrides={"01": "Wooden_Board"})
    assert (e.keyword, e.source) == ("wooden board", "override")
    e = resolve_keyword("my_odd_part")
    assert (e.keyword, e.source) == ("my odd part", "normalised")
    with pytest.raises(ConfigError, match="valid datasets"):
        resolve_keyword("screw", dataset="nope")
    from tvig.prompting.keywords import canonical_dataset

    assert [canonical_dataset(n) for n in ("mvtec_anomaly_detection", "MVTec_LOCO", "BTech",
                                           "sample", "parts", None)] == \
        ["mvtec_ad", "mvtec_loco", "btad", "sample", None, None]


# --- WordNet expansion ----------------------------------------------------------------------

def _expand(category):
    e = resolve_keyword(category, "mvtec_ad")
    return expand(e.keyword, e.hints)


@pytest.mark.parametrize("category,synset,relations,some_words", [
    ("hazelnut", "hazelnut.n.02", {"synonym", "hypernym", "gloss"},
     {("filbert", "synonym"), ("edible nut", "hypernym")}),
    ("metal_nut", "nut.n.03", {"hypernym", "hyponym", "attribute", "gloss"},
     {("hex nut", "hyponym"), ("metallic", "attribute"), ("hexagonal", "gloss"),
      ("block", "hypernym")}),
    ("screw", "screw.n.04", {"hypernym", "hyponym", "gloss"},
     {("fastener", "hypernym"), ("machine screw", "hyponym"), ("threaded", "gloss")}),
    ("carpet", "rug.n.01", {"synonym", "hypernym", "hyponym", "gloss"},
     {("rug", "synonym"), ("floor cover", "hypernym"), ("covering", "hypernym"),
      ("fabric", "gloss")}),
])
def test_expansion_relations(category, synset, relations, some_words):
    e = _expand(category)
    assert e.chosen == [synset]
    assert relations <= e.relations()
    assert some_words <= {(w.word, w.relation) for w in e.words}
    words = [w.word for w in e.words]
    assert len(words) == len(set(words)) and not set(words) & GENERIC


def test_metal_nut_picks_the_fastener_without_hints():
    e = expand("metal nut")  # no table hints: "metal" alone must decide
    assert e.lookup == "nut" and e.chosen == ["nut.n.03"]
    scores = {s.synset: s.score for s in e.senses}
    assert scores["nut.n.03"] > scores["nut.n.01"]  # fastener over fruit
    assert "mentions 'metal'" in e.senses[0].reasons
    assert any("head noun" in n for n in e.notes)


def test_related_words_carry_real_synsets_and_depths():
    from tvig.prompting.wordnet import get_wordnet

    wn = get_wordnet()
    e = _expand("carpet")
    for w in e.words:
        wn.synset(w.synset)  # raises if not a real synset name
    depths = {w.depth for w in e.words if w.relation == "hypernym"}
    assert depths == {1, 2}
    assert {w.pos for w in e.words if w.relation == "attribute"} <= {"a"}


def test_attributes_from_derivation_and_pertainyms():
    from tvig.prompting.expansion import _pertainyms_of
    from tvig.prompting.wordnet import get_wordnet

    wn = get_wordnet()
    assert _pertainyms_of(wn, wn.synset("sphere.n.05").lemmas()[0]) == ["spherical"]
    assert _pertainyms_of(wn, wn.synset("sphere.n.01").lemmas()[0]) == []  # other sense
    assert _pertainyms_of(wn, wn.synset("nut.n.03").lemmas()[0]) == []
    attrs = {w.word: w.synset for w in expand("metal nut").words if w.relation == "attribute"}
    assert attrs["metallic"] == "metallic_element.n.01"  # from the modifier "metal"


def test_unknown_keyword_notes_once_and_keeps_template_prompts(clip, shots, recwarn):
    sel = select_prompt("qzxv", shots, clip, keyword="qzxv")
    assert not [w for w in recwarn if "not in WordNet" in str(w.message)]  # the note, not a warning
    assert sum("not in WordNet" in n for n in sel.notes) == 1
    n_kw_templates = sum("{w}" not in t.text for t in load_templates())
    assert len(sel.ranking) == n_kw_templates and n_kw_templates >= 2
    assert {r.relation for r in sel.ranking} == {"keyword"}
    assert "a photo of a qzxv" in [r.prompt for r in sel.ranking]
    assert sel.expansion.words == [] and sel.notes


# --- candidates -----------------------------------------------------------------------------

def test_templates_parse_tags_and_reject_bad_lines():
    t = parse_templates(["# comment", "", "[a] a {w} {kw}", "[gloss+n] a {kw} with {w}", "{kw}"])
    assert [x.tags for x in t] == [("a",), ("gloss+n",), ()]
    assert t[1].accepts(RelatedWord("thread", "gloss", "x.n.01", "n"))
    assert not t[1].accepts(RelatedWord("small", "gloss", "x.n.01", "a"))
    with pytest.raises(ConfigError, match="neither"):
        parse_templates(["a photo"])
    with pytest.raises(ConfigError):
        parse_templates(["# only a comment"])


def test_candidates_deduplicated_with_articles():
    words = [RelatedWord("octagonal", "gloss", "x.n.01", "a"),
             RelatedWord("octagonal", "attribute", "y.n.01", "a"),
             RelatedWord("bolt", "hyponym", "bolt.n.01", "n")]
    tmpl = [Template("a photo of a {kw}"), Template("a photo of a {kw}"),
            Template("a {w} {kw}", ("a",)), Template("a photo of a {w}", ("hyponym",))]
    rows = build_candidates("nut", words, tmpl)
    prompts = [r.prompt for r in rows]
    assert prompts == ["a photo of a nut", "an octagonal nut", "a photo of a bolt"]
    assert rows[1].relation == "gloss"  # first occurrence kept


# --- scoring and selection ------------------------------------------------------------------

def test_ranking_sorted_and_deterministic(clip, shots):
    a = select_prompt("metal_nut", shots, clip)
    b = select_prompt("metal_nut", shots, clip)
    key = [(r.prompt, r.score) for r in a.ranking]
    assert key == [(r.prompt, r.score) for r in b.ranking]
    scores = [r.score for r in a.ranking]
    assert scores == sorted(scores, reverse=True) and len(set(r.prompt for r in a.ranking)) == len(key)
    assert a.prompt == a.ranking[0].prompt and len(a.ranking) > 10


def test_selection_is_argmax_of_hand_computed_cosine(clip, shots):
    sel = select_prompt("metal_nut", shots, clip)
    m = clip.model
    with torch.no_grad():
        x = F.interpolate(shots, size=(clip.image_size,) * 2, mode="bilinear", align_corners=False)
        img = m.encode_image((x - clip.mean) / clip.std)  # (k, D), raw
        img = img / img.norm(dim=-1, keepdim=True)
        target = img.mean(0)
        prompts = [r.prompt for r in sel.ranking]
        txt = m.encode_text(clip.tokenizer(prompts))  # (T, D), raw
        cos = (txt @ target) / (txt.norm(dim=-1) * target.norm())
    assert prompts[int(cos.argmax())] == sel.prompt
    assert torch.allclose(cos, torch.tensor([r.score for r in sel.ranking]), atol=1e-5)


def test_empty_image_list_is_a_clear_error(clip):
    with pytest.raises(InputError, match="no shot images"):
        select_prompt("metal_nut", [], clip)
    with pytest.raises(InputError, match="no shot images"):
        select_prompt("metal_nut", torch.zeros(0, 3, 64, 64), clip)


def test_comparison_prompts_and_missing_captioner_note(clip, shots):
    sel = select_prompt("metal_nut", shots, clip, captions=True)
    assert {r.prompt for r in sel.comparison} == {"metal nut", "a photo of a metal nut"}
    assert any("tvig download blip_image_captioning_base" in n for n in sel.notes)
    sel = select_prompt("metal_nut", shots, clip, captions=["a grey metal nut on black"])
    assert [r.relation for r in sel.comparison].count("caption") == 1


def test_blip_is_an_external_asset_reported_missing():
    from tvig import assets

    a = assets.get("blip_image_captioning_base")
    assert a.kind == "external" and not assets.is_present(a.name)


def test_save_and_load_prompt(clip, shots, tiny, tmp_path):
    sel = select_prompt("metal_nut", shots, clip, profile=tiny)
    path = sel.save(tmp_path / "run")
    d = json.loads(path.read_text())
    assert d["prompt"] == sel.prompt == d["ranking"][0]["prompt"]
    assert d["keyword"] == "metal nut" and d["category"] == "metal_nut"
    assert d["random_weights"] is True and "RANDOM WEIGHTS" in d["warning"]
    assert load_prompt(tmp_path / "run")[0] == sel.prompt
    p, note = load_prompt(tmp_path / "none", keyword="metal_nut")
    assert p == "a photo of a metal nut" and "not found" in note
    with pytest.raises(InputError, match="notebook 01"):
        load_prompt(tmp_path / "none")


# --- plots, explorer, shots -----------------------------------------------------------------

def test_plots_draw_every_row(clip, shots):
    from tvig.plots.prompting import plot_ranking, plot_relations

    sel = select_prompt("metal_nut", shots, clip)
    fig = plot_ranking(sel.ranking, 7, sel.comparison, random_weights=True)
    assert len(fig.axes[0].patches) == 7 + len(sel.comparison)
    assert "RANDOM WEIGHTS" in fig.axes[0].get_title()
    fig = plot_relations(sel.expansion)
    texts = " ".join(t.get_text() for t in fig.axes[1].texts)
    assert "nut.n.03" in texts and "nut.n.01" in texts


def test_explorer_updates_on_keyword(clip, shots, tiny):
    from tvig.prompting.explorer import prompt_explorer

    box = prompt_explorer(clip, shots, category="metal_nut", profile=tiny)
    assert box.selection.keyword == "metal nut" and box.children[1].outputs
    dropdown, typed = box.children[0].children
    typed.value = "hex nut"
    assert box.selection.keyword == "hex nut"
    dropdown.value = "mvtec_ad/screw"
    assert box.selection.keyword == "screw" and typed.value == ""


# --- CLI ------------------------------------------------------------------------------------

def test_cli_prompts_json(cli, sample_root, tmp_path):
    img = sample_root / "metal_nut" / "train" / "good" / "000.png"
    r = cli("prompts", "--category", "metal_nut", "--images", img, "--profile", "tiny",
            "--top", "5", "--json", "--out", tmp_path / "run")
    assert r.returncode == 0, r.stderr
    rows = json.loads(r.stdout)
    assert len(rows) == 5 and {"prompt", "score", "relation"} <= set(rows[0])
    assert [x["score"] for x in rows] == sorted((x["score"] for x in rows), reverse=True)
    assert "RANDOM WEIGHTS" in r.stderr
    saved = json.loads((tmp_path / "run" / "prompt.json").read_text())
    assert saved["prompt"] == rows[0]["prompt"]


def test_cli_prompts_bad_input(cli, tmp_path):
    r = cli("prompts", "--category", "metal_nut", "--images", tmp_path / "missing.png",
            "--profile", "tiny")
    assert r.returncode == 2 and "image path not found" in r.stderr and "Traceback" not in r.stderr
    r = cli("prompts", "--category", "x", "--images", tmp_path, "--profile", "nope")
    assert r.returncode == 2 and "valid profiles" in r.stderr


def test_no_template_makes_a_keyword_with_an_adjective():
    """Over every keyword table, with words of every part of speech and relation: a related
    word after "with" is always a noun with its article (never "a metal nut with square")."""
    import re

    words = [RelatedWord(w, rel, "x.n.01", pos) for pos, w in (("a", "square"), ("n", "thread"),
                                                             ("a", "metallic"), ("n", "edge"))
             for rel in ("synonym", "hypernym", "hyponym", "attribute", "gloss")]
    adjectives = {w.word for w in words if w.pos == "a"}
    for table in KEYWORDS.values():
        for entry in table.values():
            for row in build_candidates(entry.keyword, words):
                m = re.search(r"\bwith (\w+)(?: (\w+))?", row.prompt)
                if m:
                    assert m.group(1) in ("a", "an"), row.prompt
                    assert m.group(2) not in adjectives, row.prompt
                if row.word in adjectives:
                    assert f"{row.word} {entry.keyword}" in row.prompt, row.prompt


def test_tvig_prompts_and_generate_choose_the_same_prompt(cli, sample_root, tmp_path):
    from tvig.pipeline import generate

    good = sample_root / "metal_nut" / "train" / "good"
    r = cli("prompts", "--category", "metal_nut", "--images", good, "--profile", "tiny",
            "--json", "--no-caption", "--top", "1", "--device", "cpu")
    assert r.returncode == 0, r.stderr
    from_cli = json.loads(r.stdout)[0]["prompt"]
    res = generate([good], "metal_nut", tmp_path / "gen", profile="tiny", n=1, device="cpu",
                   progress=False, log=lambda _: None,
                   overrides={"steps": 1, "rounds": 1, "candidates": 2, "keep": 1})
    assert res.prompt == from_cli
    assert json.loads((tmp_path / "gen" / "prompt.json").read_text())["prompt"] == from_cli
