"""The experiment as a DAG of units: ``shots(run) -> prompt(run) -> generated(run) ->
detect(run, model, train set)``, one run per (dataset, class, k, seed).

:func:`plan` lists every unit of a spec in dependency order. Each unit carries the inputs
that decide its result and is named by their fingerprint; ``deps`` are the fingerprints of
the units it reads. The data is fingerprinted by content here, once, on the driver.

Example:
    >>> from tvig.experiment.spec import ExperimentSpec
    >>> s = ExperimentSpec.from_mapping({"categories": ["brick"], "profile": "tiny",
    ...                                  "prompt": "a photo of a brick"})
    >>> [u.kind for u in plan(s, "/tmp/tvig-plan-doctest")]
    ['shots', 'prompt', 'generated', 'detect', 'detect', 'detect']
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tvig import __version__
from tvig.detection.datasets import resolve_class
from tvig.experiment.fingerprint import fingerprint, folder_fingerprint
from tvig.experiment.spec import ExperimentSpec

KINDS = ("shots", "prompt", "generated", "detect")
# what a prompt depends on: the CLIP model and how the shots are read, not the optimiser
PROMPT_FIELDS = ("clip_model", "clip_asset", "image_size", "random_weights")


@dataclass(frozen=True)
class Unit:
    """One pure step: ``inputs`` decide its result; it lives in OUT/units/<kind>/<fp>/."""

    kind: str
    fp: str
    inputs: dict[str, Any]
    deps: tuple[str, ...] = ()
    context: dict[str, Any] = field(default_factory=dict)  # how to run it, not what it is

    @property
    def label(self) -> str:
        i = self.inputs
        extra = f" {i['model']} {i['train_set']}" if self.kind == "detect" else ""
        return f"{self.kind} {i['category']} k={i['k']} seed={i['seed']}{extra}"


def _unit(kind: str, inputs: dict[str, Any], deps=(), **context: Any) -> Unit:
    inputs = {"kind": kind, "tvig_version": __version__, **inputs}
    return Unit(kind, fingerprint(inputs), inputs, tuple(deps), context)


def data_root_of(spec: ExperimentSpec, out: "str | os.PathLike[str]") -> Path:
    """Where the class folders are (the sample classes are written under OUT once)."""
    return Path(spec.data_root).expanduser() if spec.data_root else Path(out) / "sample_data"


def plan(spec: ExperimentSpec, out: "str | os.PathLike[str]") -> list[Unit]:
    """Every unit of ``spec`` in dependency order (a unit's deps come before it)."""
    out = Path(out).resolve()
    root = data_root_of(spec, out)
    det, prof = spec.detection, spec.profile
    units: list[Unit] = []
    classes = {}
    for c in spec.categories:
        layout = resolve_class(spec.dataset, root, c, download=det.download, work_dir=out)
        classes[c] = (layout, folder_fingerprint(layout.root, subdirs=("train",)),
                      folder_fingerprint(layout.root))
    prompt_profile = {k: getattr(prof, k) for k in PROMPT_FIELDS}
    for c, k, seed in spec.runs():
        layout, train_fp, class_fp = classes[c]
        run = {"dataset": spec.dataset, "category": c, "k": k, "seed": seed}
        shots = _unit("shots", {**run, "train": train_fp}, class_root=str(layout.root))
        prompt = _unit("prompt", {**run, "shots": shots.fp, "profile": prompt_profile,
                                  "prompt": spec.prompt}, [shots.fp], device=spec.gen_device,
                       profile=prof)
        units += [shots, prompt]
        gen = None
        if spec.needs_generation:
            gen = _unit("generated", {**run, "shots": shots.fp, "prompt": prompt.fp,
                                      "profile": prof.to_dict(), "n": spec.n},
                        [shots.fp, prompt.fp], device=spec.gen_device, profile=prof)
            units.append(gen)
        for m in det.models:
            for t in det.train_sets:
                inputs = {**run, "class": class_fp, "shots": shots.fp, "model": m,
                          "train_set": t, "detection": det.training_fields()}
                deps = [shots.fp]
                if t == "generated":
                    inputs["generated"] = gen.fp
                    deps.append(gen.fp)
                if t == "augmented" and det.n_augment is None:
                    inputs["n_augment"] = spec.n  # as many as (b) adds
                units.append(_unit("detect", inputs, deps, config=det, data_root=str(root),
                                   profile_name=prof.name,
                                   overrides=dict(spec.overrides)))
    return units


def unit_dir(out: "str | os.PathLike[str]", unit: Unit) -> Path:
    return Path(out) / "units" / unit.kind / unit.fp


__all__ = ["KINDS", "Unit", "plan", "unit_dir", "data_root_of"]
