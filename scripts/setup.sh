#!/usr/bin/env bash
# Set up tvig on a fresh Linux machine: system packages (WordNet), a venv in .venv, torch, tvig.
# Idempotent: a second run only checks. Override: PYTHON=python3.12, TVIG_TORCH="torch torchvision"
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
VENV="${VENV:-.venv}"

apt_install() {
  if [ "$(id -u)" = 0 ]; then SUDO=""; elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then SUDO="sudo -n"; else
    echo "!! cannot install Debian packages ($*) without root; install them yourself or see README (Troubleshooting)"; return 0; fi
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq || echo "!! apt-get update failed; trying the install anyway"
  $SUDO apt-get install -y -qq "$@" >/dev/null
}

if [ ! -f /usr/share/wordnet/data.noun ] && command -v apt-get >/dev/null; then
  echo "== installing WordNet 3.0 (Debian packages wordnet-base wordnet-sense-index)"
  apt_install wordnet-base wordnet-sense-index
fi

if [ ! -x "$VENV/bin/python" ]; then
  echo "== creating virtual environment $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP="$VENV/bin/python -m pip"
$PIP install -q --upgrade pip

# torch: pinned here (not in pyproject) to the builds this project is tested with.
if [ -z "${TVIG_TORCH:-}" ]; then
  if [ "$(uname -s)-$(uname -m)" = "Linux-x86_64" ]; then TVIG_TORCH="torch==2.14.1 torchvision==0.29.1"
  elif [ "$(uname -s)-$(uname -m)" = "Linux-aarch64" ]; then TVIG_TORCH="torch==2.9.1 torchvision==0.24.1"
  else TVIG_TORCH="torch torchvision"; fi
fi
echo "== installing $TVIG_TORCH"
$PIP install -q $TVIG_TORCH
echo "== installing tvig and its dependencies (editable, with the dev, docs and ray extras)"
$PIP install -q -e ".[dev,docs,ray]"
"$VENV/bin/python" -c "import tvig, torch; print(f'tvig {tvig.__version__} ready (torch {torch.__version__}) in $VENV')"
touch "$VENV/.tvig-installed"
