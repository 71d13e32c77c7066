#!/usr/bin/env bash
# Build (or check) the ccu_av environment: a virtual environment at $CCU_VENV (default .venv/ at
# the repository root) with the pinned stack of requirements/*.txt and mmcv built with its C++ ops.
#
# A finished build leaves a stamp holding the hash of the requirement files and setup.py; a
# re-run with a matching stamp returns in seconds. Any failure leaves no stamp, so a half-built
# environment is never taken for a good one: the next run rebuilds it from scratch.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${CCU_VENV:-$ROOT/.venv}"
STAMP="$VENV/.ccu_av_setup_complete"
PYTHON="${CCU_PYTHON:-python3.11}"
APT_PACKAGES=(libusb-1.0-0 libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri)
# Where torch comes from. Empty: PyPI (on these machines pip takes the local CPU wheel of 2.13.0;
# elsewhere PyPI's Linux wheel is a CUDA build). The CPU Docker image points this at PyTorch's CPU index.
TORCH_INDEX_URL="${CCU_TORCH_INDEX_URL:-}"

die() { echo "setup_env: $*" >&2; exit 1; }
log() { echo "[setup_env $(date +%H:%M:%S)] $*"; }

wanted_stamp() {
    cat "$ROOT"/requirements/*.txt "$ROOT/setup.py" | sha256sum | cut -d' ' -f1
}

# The whole body is one function, read by bash before it runs: editing this file while a set-up
# is running cannot change what that run does.
main() {
if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$(wanted_stamp)" ]]; then
    # The editable install follows the working tree; nothing else can have changed.
    return 0
fi

# 1. Python 3.11 is what the pinned wheels (torch 2.13.0 CPU, open3d-cpu 0.20.0) exist for.
command -v "$PYTHON" >/dev/null 2>&1 || PYTHON=python3
command -v "$PYTHON" >/dev/null 2>&1 || die "Python 3.11 is required but neither python3.11 nor python3 was found on PATH."
PYVER="$("$PYTHON" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
[[ "$PYVER" == "3.11" ]] || die "Python 3.11 is required, but $PYTHON is Python $PYVER (set CCU_PYTHON to a python3.11)."

if [[ -e "$VENV" && ! -f "$VENV/pyvenv.cfg" ]]; then
    die "$VENV exists and is not a virtual environment; refusing to replace it (set CCU_VENV to a new folder)."
fi

# 2. The package registries must be reachable before anything is changed.
"$PYTHON" - <<'PY' || die "PyPI (https://pypi.org) cannot be reached: the set-up needs network access to the package registries."
import urllib.request
urllib.request.urlopen("https://pypi.org/simple/pip/", timeout=30).read(1)
PY

# 3. The Debian libraries that open3d needs to import and to render headless (Mesa's software EGL).
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if (( ${#missing[@]} )); then
    SUDO=""
    [[ "$(id -u)" == 0 ]] || SUDO="sudo"
    command -v apt-get >/dev/null 2>&1 || die "the Debian packages ${missing[*]} are needed by open3d and apt-get is not available to install them."
    log "installing Debian packages: ${missing[*]}"
    $SUDO apt-get update -qq || die "apt-get update failed: the Debian package registry cannot be reached."
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
        || die "apt-get could not install ${missing[*]}."
fi

# 4. A fresh virtual environment (an unstamped one is a failed or older build: start over).
if [[ -e "$VENV" ]]; then
    log "removing the unfinished or outdated environment at $VENV"
    rm -rf "$VENV"
fi
log "creating the virtual environment at $VENV"
"$PYTHON" -m venv "$VENV"
PIP=("$VENV/bin/python" -m pip install --disable-pip-version-check --progress-bar off)

log "installing torch and the build tools"
if [[ -n "$TORCH_INDEX_URL" ]]; then
    # torch alone from that index (PyPI would offer its CUDA build of the same version).
    "${PIP[@]}" --index-url "$TORCH_INDEX_URL" "$(grep -E '^torch==' "$ROOT/requirements/build.txt" | cut -d' ' -f1)"
fi
"${PIP[@]}" -r "$ROOT/requirements/build.txt"
"${PIP[@]}" -r "$ROOT/requirements/setuptools.txt"

# With FORCE_CUDA=1 and a CUDA toolkit (docker/Dockerfile.cuda), the same step builds the CUDA ops too.
log "building mmcv with its C++ ops (about 20 minutes on 2 cores the first time; pip's wheel cache makes later builds take seconds)"
MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-$(nproc)}" "${PIP[@]}" --no-build-isolation -r "$ROOT/requirements/mmcv.txt"

log "installing the rest of the stack"
"${PIP[@]}" -r "$ROOT/requirements/runtime.txt"
"${PIP[@]}" --no-deps -r "$ROOT/requirements/mmdet3d.txt"
"${PIP[@]}" -r "$ROOT/requirements/tests.txt"
"${PIP[@]}" --no-deps --no-build-isolation -e "$ROOT"
"${PIP[@]}" -r "$ROOT/requirements/setuptools.txt"

log "checking the environment"
"$VENV/bin/python" - <<'PY'
import torch
import mmcv.ops, mmdet3d.models, nuscenes, open3d  # noqa: F401
import ccu_av  # noqa: F401
boxes = torch.tensor([[0., 0., 10., 10.], [1., 1., 11., 11.], [50., 50., 60., 60.]])
_, keep = mmcv.ops.nms(boxes, torch.tensor([0.9, 0.8, 0.7]), iou_threshold=0.5)
assert keep.tolist() == [0, 2], keep
PY

wanted_stamp > "$STAMP"
log "environment ready at $VENV"
}

main "$@"; exit $?  # exit here: bash must not read past this line if the file changes
