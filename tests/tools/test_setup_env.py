"""tools/setup_env.sh and tools/ccu.sh: fail early with one clear sentence, never half-build."""
import hashlib
import os
import stat
import subprocess
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SETUP = ROOT / 'tools' / 'setup_env.sh'


def _run(args, env_extra, timeout=120):
    env = {k: v for k, v in os.environ.items() if k not in ('CCU_VENV', 'CCU_PYTHON')}
    env.update(env_extra)
    return subprocess.run(['bash', *map(str, args)], env=env, capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def _fake_python(tmp_path, version):
    """An executable that answers the version probe like a Python of `version`."""
    exe = tmp_path / 'fakepython'
    exe.write_text(f'#!/bin/sh\necho {version}\n')
    exe.chmod(exe.stat().st_mode | stat.S_IEXEC)
    return exe


def _wanted_stamp():
    data = b''.join(p.read_bytes() for p in sorted((ROOT / 'requirements').glob('*.txt')))
    return hashlib.sha256(data + (ROOT / 'setup.py').read_bytes()).hexdigest()


def test_complete_environment_is_reused_in_seconds(tmp_path):
    venv = tmp_path / 'venv'
    venv.mkdir()
    (venv / 'pyvenv.cfg').write_text('home = /nowhere\n')
    (venv / '.ccu_av_setup_complete').write_text(_wanted_stamp() + '\n')
    start = time.monotonic()
    res = _run([SETUP], {'CCU_VENV': str(venv), 'CCU_PYTHON': '/nonexistent/python'})
    assert res.returncode == 0, res.stderr
    assert time.monotonic() - start < 30
    assert sorted(p.name for p in venv.iterdir()) == ['.ccu_av_setup_complete', 'pyvenv.cfg']


def test_stale_stamp_is_not_trusted(tmp_path):
    venv = tmp_path / 'venv'
    venv.mkdir()
    (venv / 'pyvenv.cfg').write_text('home = /nowhere\n')
    (venv / '.ccu_av_setup_complete').write_text('0' * 64 + '\n')
    res = _run([SETUP], {'CCU_VENV': str(venv), 'CCU_PYTHON': _fake_python(tmp_path, '3.10')})
    assert res.returncode == 1
    assert 'Python 3.11 is required' in res.stderr


def test_unsupported_python_stops_with_one_sentence(tmp_path):
    venv = tmp_path / 'venv'
    res = _run([SETUP], {'CCU_VENV': str(venv), 'CCU_PYTHON': _fake_python(tmp_path, '3.12')})
    assert res.returncode == 1
    assert res.stderr.strip().splitlines() == [
        f'setup_env: Python 3.11 is required, but {tmp_path}/fakepython is Python 3.12 '
        '(set CCU_PYTHON to a python3.11).']
    assert not venv.exists()


def test_unreachable_registry_stops_before_changing_anything(tmp_path):
    venv = tmp_path / 'venv'
    proxy = 'http://127.0.0.1:9'  # the discard port: nothing listens, the connection is refused
    res = _run([SETUP], {'CCU_VENV': str(venv), 'https_proxy': proxy, 'HTTPS_PROXY': proxy})
    assert res.returncode == 1
    assert 'PyPI (https://pypi.org) cannot be reached' in res.stderr
    assert not venv.exists()


def test_refuses_to_replace_a_folder_that_is_not_a_venv(tmp_path):
    folder = tmp_path / 'precious'
    folder.mkdir()
    (folder / 'notes.txt').write_text('keep me')
    res = _run([SETUP], {'CCU_VENV': str(folder)})
    assert res.returncode == 1
    assert 'is not a virtual environment' in res.stderr
    assert (folder / 'notes.txt').read_text() == 'keep me'


def test_ccu_sh_rejects_an_unknown_command():
    res = _run([ROOT / 'tools' / 'ccu.sh', 'bogus'], {})
    assert res.returncode == 2
    assert 'bash tools/ccu.sh test' in res.stderr


def test_ci_runs_the_readme_test_command():
    readme = (ROOT / 'README.md').read_text()
    ci = (ROOT / '.ci' / 'run').read_text()
    assert 'bash tools/ccu.sh test' in readme
    assert 'exec bash tools/ccu.sh test' in ci
