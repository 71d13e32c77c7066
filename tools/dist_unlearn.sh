#!/usr/bin/env bash
# Multi-process unlearning with torchrun: NUM_PROCS processes on this node run tools/unlearn.py
# CONFIG --launcher pytorch (docs/distributed.md).
#   bash tools/dist_unlearn.sh CONFIG NUM_PROCS [tools/unlearn.py arguments ...]
# One process a GPU with CUDA (nccl); on a CPU-only torch the processes use gloo, which
# tools/unlearn.py picks by itself. Multi-node: run it on every node with the same NNODES,
# MASTER_ADDR and MASTER_PORT and each node's NODE_RANK (0 .. NNODES-1).
#   NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), MASTER_PORT (29500),
#   PYTHON ($CCU_VENV/bin/python, else .venv/bin/python at the repository root)
# Run the single-process job once first: a multi-process job neither writes the dataset nor
# pretrains the original model.
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#[[:space:]]*/usage: /' >&2
    exit 2
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" unlearn "$@"
