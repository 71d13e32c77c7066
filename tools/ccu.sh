#!/usr/bin/env bash
# The one entry point the README, CI and Docker images name.
#   bash tools/ccu.sh setup            build or check the environment (tools/setup_env.sh)
#   bash tools/ccu.sh unlearn [ARGS]   set up, then run the main job on configs/ccu_bevfusion.py
#   bash tools/ccu.sh test [ARGS]      set up, then run the whole test suite (ARGS go to pytest)
# The environment is $CCU_VENV, or .venv/ at the repository root.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CCU_VENV:-$ROOT/.venv}"
cd "$ROOT"

usage() { sed -n '2,6p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; }

cmd="${1:-}"
[[ $# -gt 0 ]] && shift
case "$cmd" in
    setup)
        bash tools/setup_env.sh ;;
    unlearn)
        bash tools/setup_env.sh
        exec "$VENV/bin/python" tools/unlearn.py configs/ccu_bevfusion.py "$@" ;;
    test)
        bash tools/setup_env.sh
        # The tests' models are tiny: one torch thread is faster than several, and far faster
        # when the cores are shared (measured: the suite took 3 min with 1 thread under load).
        export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
        exec "$VENV/bin/python" -m pytest -p no:dash tests "$@" ;;
    *)
        usage >&2
        exit 2 ;;
esac
