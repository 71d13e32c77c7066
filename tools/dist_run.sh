#!/usr/bin/env bash
# torchrun for the tools (tools/dist_train.sh and tools/dist_unlearn.sh call it):
#   bash tools/dist_run.sh TOOL CONFIG NUM_PROCS [TOOL's arguments ...]
# runs NUM_PROCS processes of tools/TOOL.py CONFIG --launcher pytorch on this node.
#   NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), MASTER_PORT (29500),
#   PYTHON ($CCU_VENV/bin/python, else .venv/bin/python at the repository root)
set -euo pipefail

if [[ $# -lt 3 ]]; then
    echo "usage: bash tools/dist_run.sh TOOL CONFIG NUM_PROCS [arguments ...]" >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOL=$1
CONFIG=$2
NUM_PROCS=$3
shift 3
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-29500}
PYTHON=${PYTHON:-${CCU_VENV:-$ROOT/.venv}/bin/python}

PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec "$PYTHON" -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --master_port="$MASTER_PORT" \
    --nproc_per_node="$NUM_PROCS" \
    "$ROOT/tools/$TOOL.py" "$CONFIG" --launcher pytorch "$@"
