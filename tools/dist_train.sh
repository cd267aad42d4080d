#!/usr/bin/env bash
# Distributed training on one or several machines with torchrun, as
# MMPose's tools/dist_train.sh:
#
#   bash tools/dist_train.sh CONFIG GPUS [tools/train.py options]
#
# GPUS is the number of processes on this machine. Several machines: run it
# on each with NNODES, NODE_RANK (0..NNODES-1), MASTER_ADDR (node 0's
# address) and PORT set. PYTHON picks the interpreter (default: python on
# PATH), so a virtualenv works without being activated.
set -euo pipefail

if [ $# -lt 2 ]; then
    echo "usage: $0 CONFIG GPUS [tools/train.py options]" >&2
    exit 2
fi
CONFIG=$1
GPUS=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
TOOLS="$(cd "$(dirname "$0")" && pwd)"

# torchrun is torch.distributed.run; calling it through $PYTHON keeps the
# launcher and the workers in the same environment.
PYTHONPATH="$TOOLS/..":${PYTHONPATH:-} \
"$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$GPUS" \
    --master_port="$PORT" \
    "$TOOLS/train.py" \
    "$CONFIG" \
    --launcher pytorch "${@:3}"
