"""The tutorial as a product: run, check and publish the four notebooks.

Paper: Lee & Choi, CVPR 2024, https://arxiv.org/abs/2403.06247 (the notebooks teach its three
modules and its experiment). Not part of the method: :mod:`~tvig.tutorial.runner` runs the
chain 01 -> 04 per class with papermill; :mod:`~tvig.tutorial.setup_cell` is the Colab/Binder
setup cell and badges; :mod:`~tvig.tutorial.checks` keeps notebooks output-free and in sync;
:mod:`~tvig.tutorial.summary` writes the run summary; :mod:`~tvig.tutorial.docs` builds the
site; :mod:`~tvig.tutorial.widgets` holds the notebooks' widgets.

Public names: :class:`RunConfig`, :func:`run_notebooks`, :func:`plan_run`,
:func:`find_notebooks`, :func:`check_folder`, :func:`build_site`.

Example:
    >>> from tvig.tutorial import find_notebooks
    >>> [nb.stem for nb in find_notebooks()][:2]
    ['01_prompting', '02_variance_aware_vqgan']
"""

from tvig.tutorial.checks import check_folder
from tvig.tutorial.docs import build_site
from tvig.tutorial.runner import RunConfig, plan_run, run_notebooks
from tvig.tutorial.setup_cell import find_notebooks

__all__ = ["check_folder", "build_site", "RunConfig", "plan_run", "run_notebooks",
           "find_notebooks"]
