#!/usr/bin/env bash
# Distributed training on a Slurm cluster, as MMPose's tools/slurm_train.sh:
#
#   [GPUS=16] bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG WORK_DIR \
#       [tools/train.py options]
#
# srun starts GPUS tasks (GPUS_PER_NODE per node), one per GPU; mmengine
# reads each task's rank, world size and master node from Slurm's variables
# (SLURM_PROCID, SLURM_NTASKS, SLURM_NODELIST; --launcher slurm). Set PORT
# for the master port (default 29500, mmengine's), CPUS_PER_TASK for the
# data-loading cores of each task, SRUN_ARGS for extra srun options (e.g.
# "--quotatype=auto") and PYTHON for the interpreter.
set -euo pipefail

if [ $# -lt 4 ]; then
    echo "usage: $0 PARTITION JOB_NAME CONFIG WORK_DIR [train.py options]" >&2
    exit 2
fi
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=$4
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-$((GPUS < 8 ? GPUS : 8))}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
TOOLS="$(cd "$(dirname "$0")" && pwd)"
export MASTER_PORT=${PORT:-${MASTER_PORT:-29500}}

# SRUN_ARGS is split into words on purpose: it holds several options.
# shellcheck disable=SC2086
PYTHONPATH="$TOOLS/..":${PYTHONPATH:-} \
srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$TOOLS/train.py" "$CONFIG" --work-dir="$WORK_DIR" \
    --launcher slurm "${@:5}"
