"""Generation speed: tvig against the classic VQGAN-CLIP loop, same models, one process.

Both make M images with the same RANDOM-weight models (no download needed):
  (a) reference, the classic VQGAN-CLIP recipe (written below in a few dozen lines): one image
      at a time, its own latent z initialised from the encoded shot, Adam, S steps, C cutouts,
      spherical distance to the text embedding, straight-through quantisation, z clamped to
      the codebook range after every step, a final decode;
  (b) tvig: ``latent_stats`` + the integrator (R rounds of N candidates, S steps, C cutouts,
      plus its whole-image term), then the pool (``oversample`` x as many draws of the learned
      mixture as M needs, all scored, the best kept) and ``write_set``: selection included.

Columns: seconds per optimisation step per image (a: one image; b: the batch's step / N),
seconds to M images, images per minute, peak memory (CPU RSS sampled every 20 ms; on CUDA
``torch.cuda.max_memory_allocated``), and the ratios (b)/(a). The reference is strictly
sequential, every image the same work: ``--ref-images K`` times K of them and extrapolates
its seconds to M as encode + M x (mean seconds per image), said so in the table.

Usage:
    python benchmarks/bench_speed.py --quick                      # < 5 min on 2 CPU cores
    python benchmarks/bench_speed.py --device cuda --n 16         # paper settings on a GPU
    python benchmarks/bench_speed.py --arch tiny --m 8 --out runs/speed

``--quick`` (paper architecture): image 128 px (the f16 VQGAN's decode costs ~1/4 of 256 px,
CLIP costs the same per cutout: every phase stays in proportion), M = 16, S = 4, C = 4,
N = 2 candidates, R = 1 round keeping both, the reference timed on 2 images (one before,
one after tvig). The reference pays S steps per image, tvig pays them once per batch of N and
then one decode + one scoring per pooled draw (``oversample`` per image written): the gap grows with S and with M / N, so
these small values understate it (the paper budget is S = 150). N = 2 keeps tvig's step
within the CPU RAM (the paper VQGAN's backward costs ~2.75 GB per candidate at 256 px).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from bench_generation_step import paper_models, timed  # noqa: E402

QUICK = dict(arch="paper", image_size=128, m=16, steps=4, cutouts=4, n=2, keep=2, rounds=1,
             ref_images=2)


class PeakMemory:
    """Peak memory of a block: CPU RSS (sampled) or CUDA max allocated, in GB."""

    def __init__(self, dev) -> None:
        self.dev, self.peak, self._stop = dev, 0.0, threading.Event()

    def _rss(self) -> float:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 2**20
        return 0.0

    def _watch(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._rss())

    def __enter__(self) -> "PeakMemory":
        import torch

        if self.dev.type == "cuda":
            torch.cuda.reset_peak_memory_stats()
        else:
            self.peak = self._rss()
            self._thread = threading.Thread(target=self._watch, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        import torch

        if self.dev.type == "cuda":
            self.peak = torch.cuda.max_memory_allocated() / 2**30
        else:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._rss())


def reference(vq, clip, shot, text, *, steps: int, cutouts: int, lr: float, images: int,
              seed: int, profile) -> dict:
    """(a) The classic VQGAN-CLIP loop, one image after the other. Returns timings (s)."""
    import torch

    from tvig.generator.guidance import Cutouts, spherical_distance
    from tvig.seeding import seeded

    dev = vq.device
    with torch.no_grad():
        t = time.perf_counter()
        z_init = vq.encode(shot)  # (1, C, h, w), from the shot, as a VQGAN-CLIP init image
        t_encode = time.perf_counter() - t
    lo, hi = vq.codebook_range()
    cut = Cutouts(clip.image_size, cutouts, profile.cut_pow, profile.augment_strength)
    loops, finals = [], []
    for j in range(images):
        with seeded(seed + j):
            z = z_init.clone().requires_grad_(True)
            opt = torch.optim.Adam([z], lr=lr)

            def loop() -> None:
                for _ in range(steps):
                    x = vq.decode(vq.quantize(z))  # straight-through VQ (tvig.models.vqgan)
                    emb = clip.encode_images(cut(x))  # (C, D)
                    loss = spherical_distance(emb[:, None], text[None]).mean()
                    opt.zero_grad(set_to_none=True)
                    loss.backward()
                    opt.step()
                    with torch.no_grad():
                        z.copy_(torch.maximum(torch.minimum(z, hi), lo))
                float(loss.detach())  # the classic loop prints its loss

            loops.append(timed(dev, loop))
            with torch.no_grad():
                finals.append(timed(dev, lambda: vq.decode(vq.quantize(z))))
    return dict(encode_s=t_encode, loop_s=sum(loops), final_s=sum(finals), images=images,
                steps=steps)


def combine(parts: list[dict]) -> dict:
    """Pool reference runs timed at different moments (before and after tvig's)."""
    k = sum(p["images"] for p in parts)
    loop, final = sum(p["loop_s"] for p in parts), sum(p["final_s"] for p in parts)
    return dict(encode_s=parts[0]["encode_s"], per_image_s=(loop + final) / k,
                step_per_image_s=loop / (k * parts[0]["steps"]), images_timed=k)


def tvig_run(vq, clip, shot, text, *, profile, config, m: int, seed: int, speed) -> dict:
    """(b) latent_stats + integrate + write_set (M images on disk). Returns timings (s)."""
    import torch

    from tvig.generator import latent_stats
    from tvig.integrator.pool import select_from_pool
    from tvig.integrator.rounds import integrate
    from tvig.integrator.writer import kept_of, manifest_meta, plan_set, write_set

    t = time.perf_counter()
    dist0 = latent_stats(vq, shot, profile, seed=seed)
    with torch.no_grad():
        shot_emb = clip.encode_images(shot)
    t_setup = time.perf_counter() - t
    res = integrate(vq, clip, dist0, shot_emb=shot_emb, text_emb=text, profile=profile,
                    config=config, seed=seed, progress=False, speed=speed)
    t_rounds = time.perf_counter() - t - t_setup
    meta = manifest_meta(category="bench", prompt="a photo of a metal nut", profile=profile,
                         config=config)
    need = m - len(res.scores)
    pool = (select_from_pool(vq, clip, res, need=need, profile=profile, seed=seed,
                             text_emb=text[0], shot_emb=shot_emb, config=config, speed=speed,
                             progress=False) if need > 0 else None)  # selection included
    items = plan_set(n=m, kept=kept_of(res, config.candidates), pool=pool, rounds=config.rounds)
    with tempfile.TemporaryDirectory() as out:
        rows = write_set(out, items, meta=meta, progress=False)
    total = time.perf_counter() - t
    step = sum(r.step_seconds for r in res.records) / len(res.records)
    return dict(setup_s=t_setup, rounds_s=t_rounds, write_s=total - t_setup - t_rounds,
                total_s=total, step_per_image_s=step / config.candidates, images=len(rows),
                sampled=sum(r["source"] != "kept" for r in rows))


def models(arch: str, dev):
    from tvig.models.clip import load_clip
    from tvig.models.vqgan import load_vqgan
    from tvig.profiles import get_profile

    if arch == "paper":
        return paper_models(dev)
    p = get_profile("tiny")
    return load_vqgan(p, dev), load_clip(p, dev)


def run(a: argparse.Namespace) -> dict:
    import torch

    from tvig.integrator.rounds import IntegratorConfig
    from tvig.profiles import get_profile
    from tvig.seeding import resolve_device
    from tvig.speed import resolve_precision, SpeedConfig, compile_models

    dev = resolve_device(a.device)
    base = get_profile("paper" if a.arch == "paper" else "tiny")
    prof = base.replace(random_weights=True, image_size=a.image_size or base.image_size,
                        steps=a.steps or base.steps, cutouts=a.cutouts or base.cutouts,
                        candidates=a.n or base.candidates, keep=a.keep or min(base.keep, a.n or
                                                                             base.candidates),
                        rounds=a.rounds or base.rounds, n_images=a.m)
    config = IntegratorConfig.from_profile(prof)
    speed = SpeedConfig(precision="fp32" if a.no_autocast else "auto", micro_batch=a.micro_batch,
                        compile=a.compile)
    vq, clip = models(a.arch, dev)
    if a.compile:
        compile_models(vq, clip)
    s = prof.image_size
    shot = torch.rand(1, 3, s, s, generator=torch.Generator().manual_seed(a.seed)).to(dev)
    text = clip.encode_texts(["a photo of a metal nut"])  # (1, D), both use it: untimed
    load0 = os.getloadavg()
    # warm-up, untimed: one reference step (first allocations, kernel choice)
    reference(vq, clip, shot, text, steps=1, cutouts=prof.cutouts, lr=prof.lr, images=1,
              seed=a.seed, profile=prof)
    # the reference's images are timed half before and half after tvig's run, so that both
    # see the same machine load on average (a shared CPU's load drifts over minutes)
    k = min(a.ref_images or a.m, a.m)
    parts, mem_a = [], []
    for images, seed in (((k + 1) // 2, a.seed), (k // 2, a.seed + (k + 1) // 2)):
        if images == 0:
            continue
        with PeakMemory(dev) as mem:
            parts.append(reference(vq, clip, shot, text, steps=prof.steps, cutouts=prof.cutouts,
                                   lr=prof.lr, images=images, seed=seed, profile=prof))
        mem_a.append(mem.peak)
        if len(parts) == 1:
            with PeakMemory(dev) as mem_b:
                tv = tvig_run(vq, clip, shot, text, profile=prof, config=config, m=a.m,
                              seed=a.seed, speed=speed)
    ref = combine(parts)
    ref_total = ref["encode_s"] + a.m * ref["per_image_s"]
    rows = {
        "reference": dict(step_per_image_s=ref["step_per_image_s"], to_m_s=ref_total,
                          images_per_min=60 * a.m / ref_total, peak_gb=max(mem_a)),
        "tvig": dict(step_per_image_s=tv["step_per_image_s"], to_m_s=tv["total_s"],
                     images_per_min=60 * a.m / tv["total_s"], peak_gb=mem_b.peak),
    }
    rows["tvig/reference"] = {k: rows["tvig"][k] / rows["reference"][k] for k in rows["tvig"]}
    ratio = rows["tvig/reference"]
    return dict(
        arch=a.arch, device=str(dev), torch=torch.__version__, threads=torch.get_num_threads(),
        memory="CUDA max allocated" if dev.type == "cuda" else "CPU RSS peak",
        m=a.m, steps=prof.steps, cutouts=prof.cutouts, n=prof.candidates, keep=config.keep,
        rounds=config.rounds, image_size=s,
        precision=resolve_precision(speed, dev),
        micro_batch=a.micro_batch, compile=a.compile, ref_images_timed=k,
        load_before=load0, load_after=os.getloadavg(), rows=rows, reference_detail=ref,
        tvig_detail=tv,
        done_when={"step_ratio<=1.05": ratio["step_per_image_s"] <= 1.05,
                   "speedup_to_M>=3": 1 / ratio["to_m_s"] >= 3.0})


def markdown(r: dict) -> str:
    cols = [("step_per_image_s", "s / step / image"), ("to_m_s", f"s to M={r['m']} images"),
            ("images_per_min", "images / min"), ("peak_gb", f"peak GB ({r['memory']})")]
    lines = ["| | " + " | ".join(c[1] for c in cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for name, row in r["rows"].items():
        fmt = "{:.3f}x" if "/" in name else "{:.2f}"
        lines.append(f"| {name} | " + " | ".join(fmt.format(row[c]) for c, _ in cols) + " |")
    tv, ref = r["tvig_detail"], r["reference_detail"]
    lines += ["", f"{r['arch']} architecture, RANDOM weights, {r['image_size']} px, device "
              f"{r['device']} ({r['threads']} threads), torch {r['torch']}; S={r['steps']} steps, "
              f"C={r['cutouts']} cutouts, N={r['n']}, keep {r['keep']}, R={r['rounds']}, "
              f"autocast {r['autocast']}, micro-batch {r['micro_batch']}, compile {r['compile']}.",
              f"Reference: {ref['images_timed']} image(s) timed, {ref['per_image_s']:.1f} s each "
              f"(+ {ref['encode_s']:.1f} s encode), seconds to M extrapolated as encode + M x "
              "per image." if ref["images_timed"] < r["m"] else
              f"Reference: all {r['m']} images timed.",
              f"tvig: setup {tv['setup_s']:.1f} s (latent_stats, shot embedding), rounds "
              f"{tv['rounds_s']:.1f} s, write_set {tv['write_s']:.1f} s ({tv['sampled']} of "
              f"{tv['images']} images the best of an oversampled pool from the learned mixture).",
              "Load average (1, 5, 15 min) before: " + ", ".join(f"{x:.2f}" for x in
                                                                  r["load_before"])
              + "; after: " + ", ".join(f"{x:.2f}" for x in r["load_after"]) + ".",
              "Done-when (CPU --quick): " + ", ".join(f"{k}: {'met' if v else 'NOT met'}"
                                                      for k, v in r["done_when"].items())]
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--arch", choices=("paper", "tiny"), help="default: paper")
    ap.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    ap.add_argument("--m", type=int, help="images to make (default 32)")
    ap.add_argument("--steps", type=int, help="S (default: the profile's)")
    ap.add_argument("--cutouts", type=int, help="C (default: the profile's)")
    ap.add_argument("--n", type=int, help="candidates per batch N (default: the profile's)")
    ap.add_argument("--keep", type=int, help="kept per round m (default: the profile's, <= N)")
    ap.add_argument("--rounds", type=int, help="integrator rounds R (default: the profile's)")
    ap.add_argument("--image-size", type=int, help="px (default: the profile's)")
    ap.add_argument("--ref-images", type=int, help="reference images to time (default: M)")
    ap.add_argument("--micro-batch", type=int, help="tvig: candidates per chunk")
    ap.add_argument("--no-autocast", action="store_true", help="tvig: fp32 on CUDA too")
    ap.add_argument("--compile", action="store_true", help="tvig: torch.compile the models")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--quick", action="store_true", help="preset: " + ", ".join(
        f"{k}={v}" for k, v in QUICK.items()) + " (explicit options still win)")
    ap.add_argument("--out", help="folder for speed.json and speed.md")
    a = ap.parse_args()
    if a.quick:
        for k, v in QUICK.items():
            if getattr(a, k) is None:
                setattr(a, k, v)
    a.arch, a.m = a.arch or "paper", a.m or 32
    for k in ("m", "steps", "cutouts", "n", "keep", "rounds", "image_size", "ref_images"):
        v = getattr(a, k)
        if v is not None and v < 1:
            ap.error(f"--{k.replace('_', '-')} must be >= 1")
    print(f"bench_speed: {a.arch} architecture with RANDOM weights (timings only; the images "
          "mean nothing)", flush=True)
    r = run(a)
    md = markdown(r)
    print(md)
    if a.out:
        from tvig import atomic

        atomic.write_text(Path(a.out) / "speed.json", json.dumps(r, indent=2))
        atomic.write_text(Path(a.out) / "speed.md", md + "\n")
        print(f"wrote {Path(a.out) / 'speed.json'} and speed.md")


if __name__ == "__main__":
    main()
