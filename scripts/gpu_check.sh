#!/usr/bin/env bash
# The GPU check, one script, under 8 minutes on one modern GPU (issue 14):
#   1. the speed benchmark: tvig vs the classic VQGAN-CLIP loop, paper architecture, N = 16
#   2. the memory benchmark with real CUDA peaks (paper and fast, checkpointing off and on)
#   3. the notebook chain 01 -> 04 on one sample class (tiny profile unless PROFILE is set)
# and prints one table at the end. Random weights are fine for 1-2 (costs do not depend on them).
#
#   scripts/gpu_check.sh                 # writes runs/gpu-check/
#   OUT=/tmp/check PROFILE=fast scripts/gpu_check.sh
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-runs/gpu-check}"; PROFILE="${PROFILE:-tiny}"; CLASS="${CLASS:-metal_nut}"
PY="${PY:-$( [ -x .venv/bin/python ] && echo .venv/bin/python || echo python3 )}"
export HF_HUB_OFFLINE="${HF_HUB_OFFLINE:-1}" PYTHONUNBUFFERED=1
mkdir -p "$OUT"
command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,compute_cap --format=csv | tee "$OUT/gpu.csv"
t0=$(date +%s)
"$PY" benchmarks/bench_speed.py --device cuda --n 16 --m 16 --out "$OUT/speed" 2>&1 | tee "$OUT/speed.log"
t1=$(date +%s)
"$PY" benchmarks/bench_memory.py --device cuda --json "$OUT/memory.json" 2>&1 | tee "$OUT/memory.log"
t2=$(date +%s)
status=0
"$PY" -m tvig notebooks run --sample --categories "$CLASS" --profile "$PROFILE" --device cuda \
  --out "$OUT/chain" 2>&1 | tee "$OUT/chain.log" || status=$?
t3=$(date +%s)
"$PY" - "$OUT" $((t1 - t0)) $((t2 - t1)) $((t3 - t2)) <<'PY'
import json, sys
from pathlib import Path
out, s_speed, s_mem, s_chain = Path(sys.argv[1]), *map(int, sys.argv[2:])
print("\n| check | figure | value | seconds |\n|---|---|---|---|")
speed = next(iter(sorted((out / "speed").glob("*.json"))), None)
if speed:
    r = json.loads(speed.read_text())["rows"]["tvig/reference"]
    print(f"| speed (N=16, paper arch) | images/min tvig / reference | {r.get('images_per_min', float('nan')):.2f}x | {s_speed} |")
mem = json.loads((out / "memory.json").read_text())["profiles"]
for name, r in mem.items():
    peak = r.get("cuda_peak_gib", {})
    print(f"| memory {name} | activations GiB off / on (counted) | {r['activations_gib_off']:.1f} / {r['activations_gib_on']:.1f} | {s_mem} |")
    print(f"| memory {name} | CUDA peak GiB off / on (measured) | {peak.get('off', float('nan')):.1f} / {peak.get('on', float('nan')):.1f} | |")
    print(f"| memory {name} | FLOP ratio on/off | {r['flop_ratio']:.2f} | |")
summary = out / "chain" / "summary.md"
print(f"| notebook chain | {summary} | {'written' if summary.exists() else 'MISSING'} | {s_chain} |")
PY
exit "$status"
