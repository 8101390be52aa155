import pytest

from tvig.prompting.wordnet import get_wordnet, lexnames_text


@pytest.fixture(scope="module")
def wn():
    return get_wordnet()


def test_wordnet_30(wn):
    assert wn.get_version() == "3.0"


@pytest.mark.parametrize("word,synset", [("screw", "screw.n.04"), ("hazelnut", "hazelnut.n.02"),
                                         ("carpet", "rug.n.01"), ("bottle", "bottle.n.01"),
                                         ("cable", "cable.n.01"), ("transistor", "transistor.n.01")])
def test_mvtec_words_have_noun_senses(wn, word, synset):
    assert synset in [s.name() for s in wn.synsets(word, pos="n")]


def test_metal_nut_needs_head_noun_fallback(wn):
    assert wn.synsets("metal_nut") == []
    fastener = wn.synset("nut.n.03")
    assert "metal" in fastener.definition() and "bolt" in fastener.definition()


def test_lexnames_is_standard_list():
    lines = lexnames_text().splitlines()
    assert len(lines) == 45
    assert lines[0] == "00\tadj.all\t3" and lines[3] == "03\tnoun.Tops\t1"
    assert lines[28] == "28\tnoun.time\t1" and lines[44] == "44\tadj.ppl\t3"


def test_missing_wordnet_names_both_fixes(monkeypatch, tmp_path):
    import nltk

    from tvig.errors import AssetMissingError
    from tvig.prompting import wordnet as w

    monkeypatch.setenv("TVIG_HOME", str(tmp_path))
    monkeypatch.setattr(w, "DEBIAN_DIRS", (tmp_path / "none",))
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "empty")])
    w.get_wordnet.cache_clear()
    try:
        with pytest.raises(AssetMissingError, match="apt-get install wordnet-base.*\n.*tvig download wordnet"):
            w.get_wordnet()
    finally:
        w.get_wordnet.cache_clear()
