"""Seconds per optimisation step and peak memory of the variance-aware generator.

Paper architecture with RANDOM weights (no download needed): CLIP ViT-B-32 (open_clip,
``pretrained=None``) + the vqgan_imagenet_f16_16384 architecture, 256 px, the ``paper``
profile's cutouts. Each batch size runs in its own subprocess so peak memory is its own.

Usage:
    python benchmarks/bench_generation_step.py                      # CPU, batch 1 4 8
    python benchmarks/bench_generation_step.py --device cuda --steps 5
    python benchmarks/bench_generation_step.py --batch-sizes 1 --cutouts 8

Seconds per step = (time of ``optimise`` with ``steps`` steps - time of one no-grad decode of
the batch, which ``optimise`` does once at the end) / steps, after an untimed warm-up decode:
the cost of one step (sample, quantise, decode, cutouts, one CLIP call, backward, Adam).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

# Peak CPU memory measured here (batch 1: 4.8 GB, batch 4: 13.0 GB): used to skip batch sizes
# that would not fit, instead of driving a shared machine out of memory.
CPU_GB_BASE, CPU_GB_PER_CANDIDATE = 2.1, 2.75


def paper_models(dev, clip_name: str = "ViT-B-32-quickgelu"):
    """(VQGAN, Clip) of the paper architecture with fixed RANDOM weights, on ``dev``."""
    import open_clip

    from tvig.models.clip import Clip
    from tvig.seeding import seeded
    from tvig.models.vqgan import build_vqgan

    vq = build_vqgan("vqgan_imagenet_f16_16384").to(dev)
    with seeded(0):
        model = open_clip.create_model(clip_name, pretrained=None)
    clip = Clip(model, open_clip.get_tokenizer(clip_name), 224, name=clip_name).to(dev)
    return vq, clip


def timed(dev, fn) -> float:
    """Wall seconds of ``fn()``, waiting for the GPU before and after."""
    import torch

    if dev.type == "cuda":
        torch.cuda.synchronize()
    t = time.perf_counter()
    fn()
    if dev.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - t


def one(batch: int, steps: int, cutouts: int | None, device: str, clip_name: str) -> dict:
    import torch

    from tvig.generator import LatentDist, optimise, sample_images
    from tvig.profiles import get_profile
    from tvig.seeding import resolve_device

    dev = resolve_device(device)
    p = get_profile("paper", cutouts=cutouts)
    vq, clip = paper_models(dev, clip_name)
    shape = vq.latent_shape(p.image_size)
    g = torch.Generator().manual_seed(0)
    dist0 = LatentDist(torch.randn(shape, generator=g) * 0.5, torch.full(shape, 0.1)).to(dev)
    text = clip.encode_texts(["a photo of a metal nut"])
    with torch.no_grad():
        shot_emb = clip.encode_images(torch.rand(1, 3, p.image_size, p.image_size, device=dev))

    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    decode = lambda: sample_images(vq, dist0, batch, seed=0)  # noqa: E731
    timed(dev, decode)  # warm-up (kernel selection, first allocations)
    t_decode = timed(dev, decode)
    t_opt = timed(dev, lambda: optimise(vq, clip, dist0, text_emb=text, shot_emb=shot_emb,
                                        profile=p.replace(steps=steps), n=batch, seed=0,
                                        progress=False))
    per_step = (t_opt - t_decode) / steps
    row = dict(device=str(dev), batch=batch, cutouts=p.cutouts, steps=steps,
               sec_per_step=round(per_step, 2), decode_no_grad_s=round(t_decode, 2),
               threads=torch.get_num_threads(),
               peak_rss_gb=round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2))
    if dev.type == "cuda":
        row["cuda_max_allocated_gb"] = round(torch.cuda.max_memory_allocated() / 2**30, 2)
    return row


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--batch-sizes", type=int, nargs="+", default=[1, 4, 8])
    ap.add_argument("--steps", type=int, default=3, help="timed steps per batch size")
    ap.add_argument("--cutouts", type=int, default=None, help="default: the paper profile's")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--clip", default="ViT-B-32-quickgelu")
    ap.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.steps < 1:
        ap.error("--steps must be >= 1")
    if a.one is not None:
        print(json.dumps(one(a.one, a.steps, a.cutouts, a.device, a.clip)))
        return
    print("variance-aware generator, paper architecture, RANDOM weights "
          f"(ViT-B-32 + vqgan_imagenet_f16_16384, 256 px), device {a.device}")
    rows = []
    free_gb = os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 2**30
    for b in a.batch_sizes:
        need = CPU_GB_BASE + CPU_GB_PER_CANDIDATE * b
        if a.device == "cpu" and need > 0.9 * free_gb:
            print(f"batch {b}: skipped, needs ~{need:.0f} GB RAM (measured ~{CPU_GB_BASE} + "
                  f"{CPU_GB_PER_CANDIDATE} GB per candidate at 32 cutouts), {free_gb:.0f} GB free")
            continue
        cmd = [sys.executable, __file__, "--one", str(b), "--steps", str(a.steps),
               "--device", a.device, "--clip", a.clip]
        if a.cutouts:
            cmd += ["--cutouts", str(a.cutouts)]
        out = subprocess.run(cmd, capture_output=True, text=True, env=os.environ)
        if out.returncode:
            print(f"batch {b}: failed\n{out.stderr[-2000:]}")
            continue
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
        print(rows[-1], flush=True)
    keys = ["device", "batch", "cutouts", "threads", "sec_per_step", "decode_no_grad_s",
            "peak_rss_gb"]
    keys += ["cuda_max_allocated_gb"] if any("cuda_max_allocated_gb" in r for r in rows) else []
    print("\n| " + " | ".join(keys) + " |\n|" + "---|" * len(keys))
    for r in rows:
        print("| " + " | ".join(str(r.get(k, "")) for k in keys) + " |")


if __name__ == "__main__":
    main()
