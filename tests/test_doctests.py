"""Every ``>>>`` example in tvig's docstrings runs (offline, tiny profile) and shows what it says.

An example that needs real weights or network is marked ``# doctest: +SKIP`` in its docstring,
with the reason beside it.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import tvig

MODULES = sorted(m.name for m in pkgutil.walk_packages(tvig.__path__, "tvig.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples_run(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # examples that write files write them here
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
                             verbose=False, report=True)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples failed in {name}"


def test_the_examples_are_many():
    """The parametrised test above must not pass by finding nothing."""
    finder = doctest.DocTestFinder()
    n = sum(len(t.examples) for name in MODULES
            for t in finder.find(importlib.import_module(name)))
    assert n >= 40
