#!/usr/bin/env bash
# Multi-process unlearning on a Slurm cluster: srun starts GPUS tasks (one a GPU) that run
# tools/unlearn.py CONFIG --launcher slurm (mmengine's Slurm launcher, nccl; docs/distributed.md).
#   bash tools/slurm_unlearn.sh PARTITION JOB_NAME CONFIG [tools/unlearn.py arguments ...]
#   GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (""),
#   PYTHON ($CCU_VENV/bin/python, else .venv/bin/python at the repository root)
# Untested: no Slurm cluster and no GPU were available where ccu_av is developed; --launcher
# slurm needs CUDA and is refused on a CPU-only torch. Run the single-process job once first: a
# multi-process job neither writes the dataset nor pretrains the original model.
set -euo pipefail

if [[ $# -lt 3 ]]; then
    sed -n '4p' "${BASH_SOURCE[0]}" | sed 's/^#[[:space:]]*/usage: /' >&2
    exit 2
fi
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
shift 3
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-${CCU_VENV:-$ROOT/.venv}/bin/python}

# SRUN_ARGS is split into words on purpose (several srun options)
# shellcheck disable=SC2086
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
exec srun -p "$PARTITION" \
    --job-name="$JOB_NAME" \
    --gres=gpu:"$GPUS_PER_NODE" \
    --ntasks="$GPUS" \
    --ntasks-per-node="$GPUS_PER_NODE" \
    --cpus-per-task="$CPUS_PER_TASK" \
    --kill-on-bad-exit=1 \
    $SRUN_ARGS \
    "$PYTHON" -u "$ROOT/tools/unlearn.py" "$CONFIG" --launcher slurm "$@"
