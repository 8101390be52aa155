"""Saved activations and FLOPs of one optimisation step, with and without checkpointing.

What one step of :func:`tvig.generator.optimise` keeps for backward, measured on the CPU with
the real architectures (VQGAN imagenet f16-16384 at the profile's size, CLIP ViT-B/32 at
224 px) and RANDOM weights (the cost of a step does not depend on the weights):

* **saved activations** are counted exactly with ``torch.autograd.graph.saved_tensors_hooks``
  (bytes of every distinct storage autograd keeps). With checkpointing, autograd keeps the
  tensors outside the checkpointed regions plus each region's input, and recomputes one region
  at a time in backward, so the peak is ``outside + sum(region inputs) + max(region inside)``;
  each term is measured (region inputs by wrapping ``torch.utils.checkpoint``, region insides
  by running each region on its own under the same hooks).
* **FLOPs** of forward + backward are counted with ``torch.utils.flop_counter.FlopCounterMode``
  (the recomputation included).

Measured on one candidate with ``--views`` CLIP views, then scaled linearly to the profile's
batch: the decoder's cost is per candidate, CLIP's per view, and one step has
``candidates * (cutouts + 1)`` views. On a GPU (``--device cuda``) it also reports the real
``torch.cuda.max_memory_allocated`` of one full step of each profile.

Usage:
    python benchmarks/bench_memory.py            # paper and fast, table
    python benchmarks/bench_memory.py --json runs/memory.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F
import torch.utils.checkpoint as tuc
from torch.utils.flop_counter import FlopCounterMode

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_generation_step import paper_models  # noqa: E402

from tvig.generator.guidance import Cutouts  # noqa: E402
from tvig.models.checkpointing import activation_checkpointing  # noqa: E402
from tvig.profiles import get_profile  # noqa: E402

GIB = 2**30
GOALS = {"paper": 14.0, "fast": 8.0}  # GiB of activations per step (issue 14)
FLOP_GOAL = 1.35


class SavedBytes:
    """Bytes of distinct storages autograd saves for backward inside the block."""

    def __init__(self) -> None:
        self.seen: dict[int, int] = {}

    def pack(self, t: torch.Tensor) -> torch.Tensor:
        s = t.untyped_storage()
        self.seen.setdefault(s.data_ptr(), s.nbytes())
        return t

    @property
    def total(self) -> int:
        return sum(self.seen.values())

    def __enter__(self) -> "SavedBytes":
        self._ctx = torch.autograd.graph.saved_tensors_hooks(self.pack, lambda t: t)
        self._ctx.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self._ctx.__exit__(*exc)


def forward_loss(vq, clip, z: torch.Tensor, cut: "Cutouts | None") -> torch.Tensor:
    """One candidate's guidance forward, as optimise does it: decode, cutouts + whole, CLIP."""
    x = vq.decode(vq.quantize(z))  # (1, 3, H, W)
    whole = F.interpolate(x, size=(clip.image_size,) * 2, mode="bilinear", align_corners=False,
                          antialias=x.shape[-1] > clip.image_size)
    views = torch.cat([cut(x), whole]) if cut is not None else whole  # (cutouts*b + b, 3, S, S)
    return clip.encode_images(views).sum()


def measure(vq, clip, size: int, views: int, ckpt: bool) -> dict[str, float]:
    """Saved bytes (decoder part and CLIP part) and FLOPs of one candidate's step."""
    torch.manual_seed(0)
    z = torch.randn(1, *vq.latent_shape(size), requires_grad=True)
    cut = Cutouts(clip.image_size, views - 1, 1.0, 0.0) if views > 1 else None
    inputs: list[int] = []
    insides: list[int] = []
    original = tuc.checkpoint
    sizing = [True]  # size the regions in the memory pass only, not in the FLOP pass

    def recording(fn, *args, **kw):  # a checkpointed region: its input stays, its inside not
        if not sizing[0]:
            return original(fn, *args, **kw)
        inputs.append(sum(a.untyped_storage().nbytes() for a in args
                          if isinstance(a, torch.Tensor)))
        with SavedBytes() as inside:  # the region run plainly, to size its recomputation
            fn(*args)
        insides.append(inside.total)
        return original(fn, *args, **kw)

    tuc.checkpoint = recording
    try:
        import open_clip.transformer as oct  # heavy: only to wrap its checkpoint call

        oct.checkpoint = recording
        import tvig.models.checkpointing as mc

        mc.checkpoint = recording
        with activation_checkpointing(vq, clip, ckpt), SavedBytes() as saved:
            loss = forward_loss(vq, clip, z, cut)
        outside = saved.total
        sizing[0] = False
        with activation_checkpointing(vq, clip, ckpt), FlopCounterMode(display=False) as fc:
            forward_loss(vq, clip, z, cut).backward()
        del loss
    finally:
        tuc.checkpoint = original
        oct.checkpoint = original
        mc.checkpoint = original
    peak = outside + sum(inputs) + (max(insides) if insides else 0)
    return dict(saved=float(peak), flops=float(fc.get_total_flops()))


def split(vq, clip, size: int, views: int, ckpt: bool) -> dict[str, float]:
    """Per-candidate decoder cost and per-view CLIP cost, from two view counts."""
    a, b = measure(vq, clip, size, 1, ckpt), measure(vq, clip, size, views, ckpt)
    per_view = {k: (b[k] - a[k]) / (views - 1) for k in a}
    return {f"{k}_decoder": a[k] - per_view[k] for k in a} | {f"{k}_view": per_view[k]
                                                               for k in a}


def scale(parts: dict[str, float], n: int, cutouts: int) -> dict[str, float]:
    views = n * (cutouts + 1)
    return {k: n * parts[f"{k}_decoder"] + views * parts[f"{k}_view"] for k in ("saved", "flops")}


def cuda_peak(vq, clip, profile) -> dict[str, float]:
    """Real max_memory_allocated (GiB) of one step of ``profile`` on the GPU, off and on."""
    from tvig.speed import SpeedConfig, autocast

    out = {}
    dev = torch.device("cuda")
    for ckpt in (False, True):
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats()
        base = torch.cuda.memory_allocated()
        z = torch.randn(profile.candidates, *vq.latent_shape(profile.image_size), device=dev,
                        requires_grad=True)
        cut = Cutouts(clip.image_size, profile.cutouts, profile.cut_pow, 1.0)
        try:
            with activation_checkpointing(vq, clip, ckpt), autocast(SpeedConfig(), dev):
                forward_loss(vq, clip, z, cut).backward()
            torch.cuda.synchronize()
            out["on" if ckpt else "off"] = (torch.cuda.max_memory_allocated() - base) / GIB
        except torch.OutOfMemoryError:
            out["on" if ckpt else "off"] = float("inf")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--profiles", nargs="+", default=["paper", "fast"])
    ap.add_argument("--views", type=int, default=3, help="CLIP views measured (>= 2)")
    ap.add_argument("--device", default="cpu", help="cpu (counts) or cuda (also real peaks)")
    ap.add_argument("--json", nargs="?", const="-", default=None, metavar="FILE",
                    help="write the figures as JSON (to FILE, or stdout)")
    a = ap.parse_args(argv)
    t0 = time.perf_counter()
    vq, clip = paper_models(torch.device("cpu"))
    print("bench_memory: paper architectures with RANDOM weights (the cost does not depend on "
          "them)", file=sys.stderr)
    sizes = {get_profile(p).image_size for p in a.profiles}
    parts = {(s, ck): split(vq, clip, s, a.views, ck) for s in sizes for ck in (False, True)}
    rows = {}
    for name in a.profiles:
        p = get_profile(name)
        off = scale(parts[(p.image_size, False)], p.candidates, p.cutouts)
        on = scale(parts[(p.image_size, True)], p.candidates, p.cutouts)
        rows[name] = dict(candidates=p.candidates, cutouts=p.cutouts, image_size=p.image_size,
                          activations_gib_off=off["saved"] / GIB,
                          activations_gib_on=on["saved"] / GIB,
                          tflops_off=off["flops"] / 1e12, tflops_on=on["flops"] / 1e12,
                          flop_ratio=on["flops"] / off["flops"],
                          goal_gib=GOALS.get(name), goal_flop_ratio=FLOP_GOAL)
        rows[name]["meets_goals"] = bool(
            rows[name]["activations_gib_on"] <= (GOALS.get(name) or float("inf"))
            and rows[name]["flop_ratio"] <= FLOP_GOAL)
        if a.device == "cuda":
            rows[name]["cuda_peak_gib"] = cuda_peak(vq.cuda(), clip.cuda(), p)
            vq, clip = vq.cpu(), clip.cpu()
    result = dict(method="saved_tensors_hooks + FlopCounterMode, 1 candidate, scaled linearly",
                  per_candidate_decoder_gib={str(s): parts[(s, False)]["saved_decoder"] / GIB
                                             for s in sizes},
                  per_view_clip_mib=parts[(min(sizes), False)]["saved_view"] / 2**20,
                  profiles=rows, seconds=time.perf_counter() - t0, torch=torch.__version__)
    print(f"{'profile':8} {'N x views':>10} {'act GiB off':>12} {'act GiB on':>11} "
          f"{'TFLOP off':>10} {'TFLOP on':>9} {'ratio':>6} {'goal':>14}")
    for name, r in rows.items():
        goal = f"<= {r['goal_gib']} GiB, {FLOP_GOAL}x" if r["goal_gib"] else "-"
        print(f"{name:8} {r['candidates']:>4} x {r['cutouts'] + 1:<3} "
              f"{r['activations_gib_off']:>12.2f} {r['activations_gib_on']:>11.2f} "
              f"{r['tflops_off']:>10.2f} {r['tflops_on']:>9.2f} {r['flop_ratio']:>6.2f} "
              f"{goal:>14} {'met' if r['meets_goals'] else 'MISSED'}")
    if a.json:
        text = json.dumps(result, indent=2)
        print(text) if a.json == "-" else Path(a.json).write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
