#!/usr/bin/env bash
# Run the tutorial chain (notebooks 01 -> 04) with the `paper` profile on MVTec AD classes, on one GPU.
#
#   scripts/gpu_run.sh DATA_ROOT CLASS [CLASS ...] [-- more `tvig notebooks run` options]
#   scripts/gpu_run.sh /data/mvtec_ad bottle screw
#   PROFILE=fast SHOTS=5 scripts/gpu_run.sh /data/mvtec_ad carpet -- --params gpu.yaml
#
# DATA_ROOT is MVTec AD in its own layout (DATA_ROOT/<class>/train/good ...). The weights must be
# cached first (`tvig download`, needs network once). Sized for < 10 minutes per class on one
# modern GPU with the paper profile; see docs/gpu.md for how. Writes OUT/mvtec_ad/<class>/
# (executed notebooks + artefacts), OUT/summary.{csv,md} and OUT/gpu-usage.csv (nvidia-smi, 5 s).
# Environment: PROFILE (paper), SHOTS (1), SEED (0), OUT (runs/gpu-$PROFILE), DEVICE (cuda),
#              TVIG (the tvig command; default .venv/bin/tvig, else `python -m tvig`).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -lt 2 ]; then sed -n '2,14p' "$0"; exit 2; fi
ROOT="$1"; shift
CLASSES=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do CLASSES+=("$1"); shift; done
[ "${1:-}" = "--" ] && shift
PROFILE="${PROFILE:-paper}"; SHOTS="${SHOTS:-1}"; SEED="${SEED:-0}"; DEVICE="${DEVICE:-cuda}"
OUT="${OUT:-runs/gpu-$PROFILE}"
if [ -n "${TVIG:-}" ]; then read -r -a TV <<<"$TVIG"
elif [ -x .venv/bin/tvig ]; then TV=(.venv/bin/tvig)
else TV=(python -m tvig); fi

if ! command -v nvidia-smi >/dev/null; then
  echo "!! nvidia-smi not found: no NVIDIA GPU here; the $PROFILE profile will be very slow on a CPU" >&2
fi
"${TV[@]}" assets || true   # shows whether the paper weights are cached (and the download command)

mkdir -p "$OUT"
MON=""
if command -v nvidia-smi >/dev/null; then
  nvidia-smi --query-gpu=timestamp,name,memory.used,memory.total,utilization.gpu \
    --format=csv -l 5 >"$OUT/gpu-usage.csv" 2>/dev/null &
  MON=$!
fi
stop_monitor() { if [ -n "$MON" ]; then kill "$MON" 2>/dev/null || true; fi; }
trap stop_monitor EXIT

start=$(date +%s)
status=0
"${TV[@]}" notebooks run --data "$ROOT" --dataset mvtec_ad --categories "${CLASSES[@]}" \
  --profile "$PROFILE" --shots "$SHOTS" --seed "$SEED" --device "$DEVICE" --out "$OUT" "$@" || status=$?
echo "== ${#CLASSES[@]} class(es) in $(( $(date +%s) - start )) s; summary: $OUT/summary.md; GPU usage: $OUT/gpu-usage.csv"
if [ -s "$OUT/gpu-usage.csv" ]; then
  awk -F', ' 'NR>1 {gsub(/ MiB/,"",$3); if ($3>m) m=$3} END {if (m) print "== peak GPU memory used: " m " MiB"}' "$OUT/gpu-usage.csv"
fi
exit "$status"
