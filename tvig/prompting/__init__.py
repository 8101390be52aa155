"""Paper module 1, the keyword-to-prompt generator (notebook ``01_prompting``).

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247, Sec. 3 (keyword-to-prompt
generator). A class name is normalised to a keyword (:mod:`~tvig.prompting.keywords`),
expanded with WordNet 3.0 (:mod:`~tvig.prompting.wordnet`, :mod:`~tvig.prompting.expansion`),
turned into candidate prompts from templates, and ranked by CLIP against the shots
(:mod:`~tvig.prompting.ranking`); an image caption (:mod:`~tvig.prompting.captioning`) is a
comparison row; :mod:`~tvig.prompting.explorer` is the notebook's widget.

Public names: :func:`resolve_keyword`, :func:`normalise_keyword`, :func:`expand`,
:func:`build_candidates`, :func:`select_prompt`, :class:`PromptSelection`,
:func:`format_ranking`, :func:`load_prompt`, :func:`get_wordnet`.

Example:
    >>> from tvig.prompting import normalise_keyword, resolve_keyword
    >>> normalise_keyword("metal_nut")
    'metal nut'
    >>> resolve_keyword("btad", "03").keyword
    'metal plate'
"""

from tvig.prompting.expansion import Expansion, RelatedWord, expand
from tvig.prompting.keywords import KeywordEntry, normalise_keyword, resolve_keyword
from tvig.prompting.ranking import (PromptSelection, build_candidates, format_ranking, load_prompt,
                                    select_prompt)
from tvig.prompting.wordnet import get_wordnet

__all__ = ["Expansion", "RelatedWord", "expand", "KeywordEntry", "normalise_keyword",
           "resolve_keyword", "PromptSelection", "build_candidates", "format_ranking",
           "load_prompt", "select_prompt", "get_wordnet"]
