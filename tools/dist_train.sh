#!/usr/bin/env bash
# Multi-process training with torchrun: NUM_PROCS processes on this node run tools/train.py
# CONFIG --launcher pytorch (docs/distributed.md), e.g. to pretrain the original model.
#   bash tools/dist_train.sh CONFIG NUM_PROCS [tools/train.py arguments ...]
# One process a GPU with CUDA (nccl); on a CPU-only torch the processes use gloo, which
# tools/train.py picks by itself. Multi-node: run it on every node with the same NNODES,
# MASTER_ADDR and MASTER_PORT and each node's NODE_RANK (0 .. NNODES-1).
#   NNODES (1), NODE_RANK (0), MASTER_ADDR (127.0.0.1), MASTER_PORT (29500),
#   PYTHON ($CCU_VENV/bin/python, else .venv/bin/python at the repository root)
# The dataset and its info files must exist (tools/make_synthetic_nuscenes.py, tools/create_data.py).
set -euo pipefail

if [[ $# -lt 2 ]]; then
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#[[:space:]]*/usage: /' >&2
    exit 2
fi
exec bash "$(dirname "${BASH_SOURCE[0]}")/dist_run.sh" train "$@"
