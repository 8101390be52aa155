"""WordNet 3.0 for the keyword-to-prompt generator, with no network.

Looks in order: nltk's data path (``nltk.download('wordnet')`` or ``NLTK_DATA``); a corpus
folder in tvig's cache assembled from Debian's ``wordnet-base`` files (``/usr/share/wordnet``)
plus the small ``lexnames`` file nltk needs and Debian does not ship. Otherwise it raises an
error naming both fixes.

Example:
    >>> from tvig.prompting.wordnet import get_wordnet
    >>> wn = get_wordnet()                        # doctest: +SKIP
    >>> wn.synsets("nut")[2].name()               # doctest: +SKIP
    'nut.n.03'
"""

from __future__ import annotations

import functools
import warnings
from pathlib import Path

from tvig import assets, atomic
from tvig.errors import AssetMissingError
from tvig.paths import cache_dir

DEBIAN_DIRS = (Path("/usr/share/wordnet"),)
# Files nltk's WordNetCorpusReader reads (index.sense is optional but gives sense keys).
_REQUIRED = ("data.noun", "data.verb", "data.adj", "data.adv", "index.noun", "index.verb",
             "index.adj", "index.adv", "noun.exc", "verb.exc", "adj.exc", "adv.exc")
_OPTIONAL = ("index.sense", "cntlist.rev")

# The standard WordNet lexicographer file list (number, name, syntactic category).
_LEXNAMES = """adj.all 3
adj.pert 3
adv.all 4
noun.Tops 1
noun.act 1
noun.animal 1
noun.artifact 1
noun.attribute 1
noun.body 1
noun.cognition 1
noun.communication 1
noun.event 1
noun.feeling 1
noun.food 1
noun.group 1
noun.location 1
noun.motive 1
noun.object 1
noun.person 1
noun.phenomenon 1
noun.plant 1
noun.possession 1
noun.process 1
noun.quantity 1
noun.relation 1
noun.shape 1
noun.state 1
noun.substance 1
noun.time 1
verb.body 2
verb.change 2
verb.cognition 2
verb.communication 2
verb.competition 2
verb.consumption 2
verb.contact 2
verb.creation 2
verb.emotion 2
verb.motion 2
verb.perception 2
verb.possession 2
verb.social 2
verb.stative 2
verb.weather 2
adj.ppl 3"""


def lexnames_text() -> str:
    """The 45-line ``lexnames`` file: ``NN<TAB>name<TAB>pos``."""
    lines = [f"{i:02d}\t{name}\t{pos}" for i, (name, pos) in
             enumerate(line.split() for line in _LEXNAMES.splitlines())]
    return "\n".join(lines) + "\n"


def _debian_source() -> Path | None:
    for d in DEBIAN_DIRS:
        if all((d / f).is_file() for f in _REQUIRED):
            return d
    return None


def assemble_from_debian(cache: Path, source: Path) -> Path:
    """Build ``cache/nltk_data/corpora/wordnet`` from Debian's files (copies) + lexnames.

    Copies, not symlinks: nltk refuses corpus paths that resolve outside its root."""
    corpus = cache / "nltk_data" / "corpora" / "wordnet"
    corpus.mkdir(parents=True, exist_ok=True)
    for f in _REQUIRED + _OPTIONAL:
        src, dst = source / f, corpus / f
        if src.is_file() and not dst.exists():
            atomic.write_bytes(dst, src.read_bytes())
    if not (corpus / "lexnames").exists():
        atomic.write_text(corpus / "lexnames", lexnames_text())
    return corpus.parent.parent


def _nltk_has_wordnet() -> bool:
    import nltk  # heavy: nltk's corpus machinery only for WordNet

    try:
        nltk.data.find("corpora/wordnet")
        return True
    except LookupError:
        try:
            nltk.data.find("corpora/wordnet.zip")
            return True
        except LookupError:
            return False


MISSING_HELP = (
    "WordNet data not found. Fix it with one of:\n"
    "  sudo apt-get install wordnet-base wordnet-sense-index   (Debian/Ubuntu; tvig assembles "
    "the corpus from /usr/share/wordnet)\n"
    "  tvig download wordnet        (or: python -m nltk.downloader wordnet; needs network)")


@functools.lru_cache(maxsize=1)
def get_wordnet():
    """An nltk WordNet 3.0 reader (cached). Raises :class:`AssetMissingError` when none is found."""
    import nltk  # heavy: nltk's corpus machinery only for WordNet
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    local = cache_dir() / "nltk_data"
    if local.is_dir() and str(local) not in nltk.data.path:
        nltk.data.path.insert(0, str(local))
    if not _nltk_has_wordnet():
        source = _debian_source()
        if source is None:
            raise AssetMissingError(MISSING_HELP)
        data_dir = assemble_from_debian(cache_dir(), source)
        if str(data_dir) not in nltk.data.path:
            nltk.data.path.insert(0, str(data_dir))
    root = nltk.data.find("corpora/wordnet")
    with warnings.catch_warnings():  # "multilingual functions are not available": no OMW, as meant
        warnings.filterwarnings("ignore", message=".*multilingual functions.*")
        return WordNetCorpusReader(root, None)


def _present() -> bool:
    try:
        get_wordnet()
        return True
    except AssetMissingError:
        return False


def download_wordnet(log=print) -> Path:
    """``tvig download wordnet``: nltk's own downloader into tvig's cache (needs network)."""
    import nltk  # heavy: nltk's corpus machinery, only for WordNet

    target = cache_dir() / "nltk_data"
    if _present():
        log("wordnet: present")
        return target
    ok = nltk.download("wordnet", download_dir=str(target), quiet=True, raise_on_error=True)
    if not ok:
        raise AssetMissingError("nltk could not download WordNet (no network?). On "
                                "Debian/Ubuntu: sudo apt-get install wordnet-base "
                                "wordnet-sense-index")
    get_wordnet.cache_clear()
    log(f"wordnet: downloaded -> {target}")
    return target


assets.register(assets.Asset(
    "wordnet",
    (assets.AssetFile("wordnet.zip", ("https://raw.githubusercontent.com/nltk/nltk_data/"
                                      "gh-pages/packages/corpora/wordnet.zip",)),),
    licence="WordNet 3.0 licence (Princeton, BSD-like)",
    description="WordNet 3.0 for nltk; Debian's wordnet-base is used when installed",
    kind="external", present=_present, fetch=download_wordnet))
