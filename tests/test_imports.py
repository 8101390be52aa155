"""The package's import structure: no circles, and imports inside functions only for heavy
optional dependencies, each with its reason (issue 12)."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PKG = Path(__file__).resolve().parents[1] / "tvig"
# top-level modules that may be imported inside a function (slow to import, needed on one path)
HEAVY = {"anomalib", "lightning", "taming", "open_clip", "matplotlib", "ray", "transformers",
         "huggingface_hub", "papermill", "nbformat", "jupytext", "ipywidgets", "IPython",
         "skimage", "timm", "kornia", "mkdocs", "nltk", "pandas", "torchvision", "selenium"}


def module_name(path: Path) -> str:
    parts = list(path.relative_to(PKG.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules() -> dict[str, Path]:
    return {module_name(p): p for p in PKG.rglob("*.py")}


def imports_of(path: Path, known: set[str]) -> list[tuple[str, ast.stmt, bool]]:
    """(target module, node, inside a function) for every import of a tvig module or not."""
    tree = ast.parse(path.read_text())
    inside = {id(n) for f in ast.walk(tree) if isinstance(f, (ast.FunctionDef, ast.AsyncFunctionDef))
              for n in ast.walk(f)}
    me = module_name(path)
    package = me if path.name == "__init__.py" else me.rpartition(".")[0]
    out = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join(up + ([base] if base else []))
            # `from pkg import submodule` imports the submodule
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in known else base
                       for a in node.names]
        else:
            continue
        out += [(t, node, id(node) in inside) for t in targets]
    return out


def graph() -> dict[str, set[str]]:
    mods = modules()
    known = set(mods)
    return {m: {t for t, _, _ in imports_of(p, known) if t in known and t != m}
            for m, p in mods.items()}


def find_cycle(g: dict[str, set[str]]) -> list[str] | None:
    """One import circle of ``g`` as a path [a, b, ..., a], or None."""
    state: dict[str, int] = {}  # 1 on the stack, 2 done
    stack: list[str] = []

    def visit(n: str) -> list[str] | None:
        state[n] = 1
        stack.append(n)
        for m in sorted(g.get(n, ())):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (c := visit(m)):
                return c
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(g):
        if n not in state and (c := visit(n)):
            return c
    return None


def test_cycle_finder_finds_a_circle_added_by_hand():
    g = graph()
    assert find_cycle(g) is None
    g["tvig.errors"] = g["tvig.errors"] | {"tvig.detection.run"}  # errors -> ... -> errors
    cycle = find_cycle(g)
    assert cycle is not None and cycle[0] == cycle[-1]


def test_no_import_circles_counting_imports_inside_functions():
    cycle = find_cycle(graph())
    assert cycle is None, "import circle: " + " -> ".join(cycle)


def test_imports_inside_functions_are_heavy_dependencies_with_a_reason():
    mods = modules()
    bad = []
    for m, p in mods.items():
        lines = p.read_text().splitlines()
        for target, node, inside in imports_of(p, set(mods)):
            if not inside:
                continue
            line = lines[node.lineno - 1]
            if target.split(".")[0] not in HEAVY:
                bad.append(f"{p.relative_to(PKG.parent)}:{node.lineno}: {target} (not heavy)")
            elif "# heavy:" not in line and "# heavy:" not in lines[node.lineno - 2]:
                bad.append(f"{p.relative_to(PKG.parent)}:{node.lineno}: {target} (no '# heavy:' reason)")
    assert not bad, "\n".join(bad)


@pytest.mark.parametrize("package", ["prompting", "generator", "integrator", "detection",
                                     "tutorial", "models"])
def test_each_subpackage_names_its_paper_and_has_an_example(package):
    doc = ast.get_docstring(ast.parse((PKG / package / "__init__.py").read_text())) or ""
    assert "arxiv.org/abs/2403.06247" in doc and ">>>" in doc and "Public names" in doc
