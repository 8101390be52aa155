"""Run a profile's gates, print them as a table, record them beside the assets.

:func:`run_check` loads the profile's CLIP and VQGAN (an unreadable file is one
:class:`~tvig.errors.AssetError` line), runs every gate of :mod:`tvig.gates.checks` on the
scikit-image photos at the profile's size, and (``record=True``) writes the results, keyed by
the files' sha256, as ``tvig-check.json`` in each asset folder the profile uses.
:func:`cached_verdict` reads them back; :func:`ensure_checked` runs the check only when no
record matches the files cached now (what :func:`tvig.profiles.profile_or_tiny` is given).

>>> rows = [GateResult("clip", "w.safetensors", "zero-shot top-1", 0.9, 0.7, True, 1.0)]
>>> print(format_table(rows).splitlines()[0].split())
['model', 'file', 'gate', 'value', 'threshold', 'result', 'seconds']
"""

from __future__ import annotations

import datetime
from pathlib import Path
from typing import Callable

import torch

from tvig import assets
from tvig.gates.backbones import backbone_gates
from tvig.gates.checks import GateResult, chain_gate, clip_gate, vqgan_gate
from tvig.gates.photos import PHOTOS, load_photos
from tvig.models.clip import clip_weights_file, load_clip
from tvig.models.vqgan import load_vqgan
from tvig.profiles import Profile, get_profile
from tvig.profiles import recorded_verdict as cached_verdict

HEADER = ("model", "file", "gate", "value", "threshold", "result", "seconds")


def profile_assets(profile: Profile) -> list[str]:
    """Registry names of the weight assets ``profile`` uses (none for random weights)."""
    return [n for n in (profile.clip_asset, profile.arch.asset) if n is not None]


def run_check(profile: "str | Profile", *, device: "str | torch.device" = "cpu",
              record: bool = True, backbones: bool = True,
              log: Callable[[str], None] = lambda s: None) -> list[GateResult]:
    """Every gate of ``profile``; with ``record`` the results are written beside its assets."""
    profile = get_profile(profile)
    clip, vqgan = load_clip(profile, device), load_vqgan(profile, device)
    clip_file = clip_weights_file(profile).name if profile.clip_asset else "(random weights)"
    vq_file = "last.ckpt" if profile.arch.asset else "(random weights)"
    log(f"checking profile {profile.name!r} on {len(PHOTOS)} scikit-image photos")
    photos = load_photos(profile.image_size)  # (N, 3, S, S)
    results = [clip_gate(clip, photos, model=profile.clip_model, file=clip_file),
               vqgan_gate(vqgan, photos, model=profile.vqgan, file=vq_file)]
    if backbones:
        results += backbone_gates(device=device)
    brick = photos[[p.key for p in PHOTOS].index("brick")]
    results.append(chain_gate(vqgan, clip, brick))
    if record:
        write_records(profile, results)
    return results


def passed(results: list[GateResult]) -> bool:
    """True when no gate failed (skipped gates, e.g. no cached backbone, do not fail)."""
    return all(r.passed or r.skipped for r in results)


def write_records(profile: Profile, results: list[GateResult]) -> list[Path]:
    """``tvig-check.json`` in each of the profile's asset folders (sha256 + gate results)."""
    rec = {"profile": profile.name, "image_size": profile.image_size, "passed": passed(results),
           "when": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
           "gates": [r.to_dict() for r in results]}
    return [assets.write_check(n, rec) for n in profile_assets(profile)]


def ensure_checked(profile: "str | Profile", log: Callable[[str], None] = print
                   ) -> tuple[bool, str]:
    """The cached verdict, running (and recording) the check first when there is none."""
    profile = get_profile(profile)
    ok, why = cached_verdict(profile)
    if ok is None:
        log(f"tvig check: {why}; running it once now (cached by file sha256)")
        results = run_check(profile, log=log)
        ok = passed(results)
        why = "every gate passed" if ok else verdict_line(results)
    return bool(ok), why


def format_table(results: list[GateResult]) -> str:
    """A fixed-width text table (one row per gate, notes below the rows that have one)."""
    rows = [HEADER] + [r.row() for r in results]
    widths = [max(len(r[i]) for r in rows) for i in range(len(HEADER))]
    lines = []
    for k, r in enumerate(rows):
        lines.append("  ".join(c.ljust(w) for c, w in zip(r, widths)).rstrip())
        note = results[k - 1].note if k else ""
        if note:
            lines.append(" " * 4 + note)
    return "\n".join(lines)


def verdict_line(results: list[GateResult]) -> str:
    """One line: 'tvig check: 4/4 gates pass' or which failed."""
    bad = [f"{r.model} {r.gate}" for r in results if not (r.passed or r.skipped)]
    n = sum(not r.skipped for r in results)
    if not bad:
        return f"tvig check: {n}/{n} gates pass"
    return f"tvig check: {len(bad)} of {n} gates FAIL ({', '.join(bad)})"


def quiet_verdict(profile: "str | Profile") -> str:
    """One line for a notebook: the recorded (or freshly run) check of ``profile``'s weights;
    on random weights a quick unrecorded run whose weight gates are expected to fail."""
    profile = get_profile(profile)
    if not profile_assets(profile):
        line = verdict_line(run_check(profile, record=False, backbones=False))
        return f"{line} - expected: profile {profile.name!r} has random weights"
    ok, why = ensure_checked(profile, log=lambda s: None)
    return f"tvig check ({profile.name}): {'pass' if ok else 'FAIL'}: {why}"
