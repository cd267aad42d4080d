#!/usr/bin/env bash
# The GPU check: one script, one Markdown block, at most ~8 minutes on one
# GPU (issue 16):
#   1. tools/analysis/benchmark.py --device cuda --amp bf16 --channels-last
#      for the five models (latency at batch 1, throughput at batch 32,
#      training img/s at batch 16, peak memory);
#   2. MMPose's own tools/train.py --amp (AmpOptimWrapper) with our
#      300W-subset CPU config, one epoch;
#   3. RePFormer-R18-d128 at 256x256 (configs/repformer/300w/refinement/
#      repformer_res18-d128_1xb16-15e_300w-subset-256x256.py) trained on
#      300W-subset with bf16 AMP for as many epochs as fit in
#      $GPU_CHECK_TRAIN_SECONDS (300 s; at most the config's 15 epochs, so
#      that the figure compares with the CPU runs of docs/results.md), then
#      tested on the common set: img/s and NME of every stage.
# Without a GPU it says so and runs each step for one iteration on the CPU
# (a dry run; tests/test_gpu_check.py runs it).
#
#   bash tools/analysis/gpu_check.sh [DATA_ROOT]
#
# DATA_ROOT: the 300W-subset folder (default ../shared/data/300w-subset).
# PYTHON (default: .venv/bin/python if present, else python3) runs it.
set -euo pipefail
cd "$(dirname "$0")/../.."

if [[ -z "${PYTHON:-}" ]]; then
  PYTHON=python3
  [[ -x .venv/bin/python ]] && PYTHON=.venv/bin/python
fi
DATA=${1:-../shared/data/300w-subset}
OUT=${GPU_CHECK_DIR:-work_dirs/gpu_check}
SECONDS_BUDGET=${GPU_CHECK_TRAIN_SECONDS:-300}
CONFIG_CPU=configs/repformer/300w/repformer_res18-d128_1xb16-15e_300w-subset-128x128.py
CONFIG_256=configs/repformer/300w/refinement/repformer_res18-d128_1xb16-15e_300w-subset-256x256.py
mkdir -p "$OUT"
export PYTHONWARNINGS=ignore

data_options() {  # --cfg-options pointing both loaders at $DATA
  local ann_train=train.json ann_test=test_common.json prefix=images/
  if [[ ! -f "$DATA/$ann_train" ]]; then  # MMPose's 300W fixture layout
    ann_train=test_300w.json ann_test=test_300w.json prefix=
  fi
  echo "train_dataloader.dataset.data_root=$DATA" \
       "train_dataloader.dataset.ann_file=$ann_train" \
       "train_dataloader.dataset.data_prefix.img=$prefix" \
       "test_dataloader.dataset.data_root=$DATA" \
       "test_dataloader.dataset.ann_file=$ann_test" \
       "test_dataloader.dataset.data_prefix.img=$prefix"
}

if "$PYTHON" -c 'import sys, torch; sys.exit(not torch.cuda.is_available())'
then
  GPU=1
  DEVICE=$("$PYTHON" -c 'import torch; print(torch.cuda.get_device_name(0))')
else
  GPU=0
  DEVICE="no GPU (torch.cuda.is_available() is False)"
fi
start=$(date +%s)

{
  echo "## GPU check"
  echo
  echo "- device: $DEVICE; torch $("$PYTHON" -c 'import torch; print(torch.__version__)')"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet 2>/dev/null || echo +dirty); date: $(date -u '+%Y-%m-%d %H:%M UTC')"
  if [[ $GPU == 0 ]]; then
    echo "- **No GPU here: this is a 1-iteration dry run of every step on the CPU; its figures mean nothing.**"
  fi
  echo
} > "$OUT/report.md"

# 1. benchmark
if [[ $GPU == 1 ]]; then
  BENCH=(--device cuda --amp bf16 --channels-last --repeats 5 --warmup 2)
else
  BENCH=(--device cpu --models repformer_r18 --input-size 64 --repeats 1
         --warmup 0 --batch-sizes 1 2 --train-batch-size 2 --no-flops
         --threads 1)
fi
"$PYTHON" tools/analysis/benchmark.py "${BENCH[@]}" \
  --output "$OUT/benchmark.md" > "$OUT/benchmark.log" 2>&1
{ echo "### 1. Benchmark"; echo; cat "$OUT/benchmark.md"; echo; } >> "$OUT/report.md"

# 2. MMPose's --amp training path on our config: MMPose's own train script,
#    one epoch of 300W-subset at 128x128 (CPU config), no validation
{ echo "### 2. MMPose's tools/train.py --amp"; echo; } >> "$OUT/report.md"
if [[ $GPU == 1 ]]; then
  MMPOSE_TRAIN=$("$PYTHON" -c 'import mmpose, os.path as p; print(p.join(p.dirname(mmpose.__file__), ".mim", "tools", "train.py"))')
  amp_start=$(date +%s)
  # shellcheck disable=SC2046
  if "$PYTHON" "$MMPOSE_TRAIN" "$CONFIG_CPU" --amp --work-dir "$OUT/amp" \
      --cfg-options train_cfg.max_epochs=1 train_cfg.val_interval=2 \
      train_dataloader.num_workers=8 $(data_options) > "$OUT/amp.log" 2>&1
  then
    { echo "Finished in $(( $(date +%s) - amp_start )) s (one epoch);" \
        "optimizer wrapper: $(grep -o 'AmpOptimWrapper' "$OUT/amp.log" | head -1 || echo '?')." \
        "Last training log line:"; echo;
      echo '```'; grep 'Epoch(train)' "$OUT/amp.log" | tail -1 | cut -c1-400; echo '```'; } >> "$OUT/report.md"
  else
    { echo "**Failed** (exit code $?); last lines:"; echo '```';
      tail -5 "$OUT/amp.log"; echo '```'; } >> "$OUT/report.md"
  fi
else
  echo "Skipped: mmengine's AmpOptimWrapper needs a GPU." >> "$OUT/report.md"
fi
echo >> "$OUT/report.md"

# 3. timed 256x256 training + test
if [[ $GPU == 1 ]]; then
  TRAIN=(--seconds "$SECONDS_BUDGET" --amp bf16 --workers 8)
  EXTRA=()
else
  TRAIN=(--max-iters 1)
  EXTRA=(train_dataloader.batch_size=2)
fi
# shellcheck disable=SC2046
"$PYTHON" tools/analysis/timed_training.py "$CONFIG_256" "${TRAIN[@]}" \
  --work-dir "$OUT/train" --cfg-options $(data_options) "${EXTRA[@]}" \
  > "$OUT/train.log" 2>&1
{ echo "### 3. RePFormer-R18-d128, 256x256, 300W-subset"; echo;
  cat "$OUT/train/timed_training.md"; echo;
  echo "Total wall time of the check: $(( $(date +%s) - start )) s"; } >> "$OUT/report.md"

cat "$OUT/report.md"
