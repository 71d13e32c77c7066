"""tools/make_synthetic_nuscenes.py: size knobs reach the writer, the summary is printed."""
import importlib.util
import json
from pathlib import Path

import pytest
from nuscenes import NuScenes

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope='module')
def tool():
    path = ROOT / 'tools' / 'make_synthetic_nuscenes.py'
    spec = importlib.util.spec_from_file_location('make_synthetic_nuscenes', path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_command_line_writes_what_it_is_asked(tool, tmp_path, capsys):
    out = tmp_path / 'data'
    summary = tool.main(['--out', str(out), '--seed', '3', '--locations', 'boston-seaport', 'singapore-queenstown',
                         '--takedown-location', 'boston-seaport', '--train-scenes', '2', '--val-scenes', '1',
                         '--samples', '2', '--image-size', '48', '32', '--radar-sweeps', '2',
                         '--private-sites', '0'])
    stdout = capsys.readouterr().out  # the logger's lines, then the JSON summary
    printed = json.loads(stdout[stdout.index('{\n'):])
    assert printed['num_scenes'] == summary['num_scenes'] == 6 and printed['seed'] == 3
    assert printed['splits'] == {'synthetic_train': 4, 'synthetic_train_boston-seaport': 2,
                                 'synthetic_train_singapore-queenstown': 2, 'synthetic_val': 2,
                                 'synthetic_val_boston-seaport': 1, 'synthetic_val_singapore-queenstown': 1}
    assert summary['takedown_scenes'] == ['scene-0001', 'scene-0002']
    nusc = NuScenes('v1.0-synthetic', str(out), verbose=False)
    camera = nusc.get('sample_data', nusc.sample[0]['data']['CAM_FRONT'])
    assert (camera['width'], camera['height']) == (48, 32)
    radar = nusc.get('sample_data', nusc.sample[1]['data']['RADAR_FRONT'])
    previous = nusc.get('sample_data', radar['prev'])
    assert not previous['is_key_frame'] and nusc.get('sample_data', previous['prev'])['is_key_frame']


def test_command_line_private_sites(tool, tmp_path, capsys):
    summary = tool.main(['--out', str(tmp_path / 'sites'), '--locations', 'boston-seaport', '--takedown-location',
                         'boston-seaport', '--train-scenes', '3', '--val-scenes', '1', '--samples', '2',
                         '--image-size', '32', '24', '--private-sites', '2', '--site-scenes', '1'])
    stdout = capsys.readouterr().out
    printed = json.loads(stdout[stdout.index('{\n'):])
    assert sorted(summary['sites']) == ['boston-seaport-site-1', 'boston-seaport-site-2']
    assert printed['sites'] == summary['sites'] and printed['splits']['synthetic_site_boston-seaport-site-1'] == 1
    assert all(len(scenes) == 1 for scenes in summary['sites'].values())


def test_command_line_rejects_unknown_location(tool, tmp_path):
    with pytest.raises(SystemExit):
        tool.main(['--out', str(tmp_path / 'x'), '--locations', 'atlantis'])


def test_sigterm_while_writing_leaves_no_temporary_folder(tmp_path):
    """SIGTERM (a job scheduler's stop) cleans up as Ctrl-C does: no hidden temporary dataset."""
    import signal
    import subprocess
    import sys
    import time
    out = tmp_path / 'data'
    child = subprocess.Popen(
        [sys.executable, str(ROOT / 'tools' / 'make_synthetic_nuscenes.py'), '--out', str(out), '--locations',
         'boston-seaport', '--takedown-location', 'boston-seaport', '--train-scenes', '40', '--val-scenes', '1',
         '--samples', '4', '--private-sites', '0', '--workers', '1'],
        cwd=str(ROOT), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob('.data.tmp-*')) and time.monotonic() < deadline and child.poll() is None:
        time.sleep(0.1)
    assert list(tmp_path.glob('.data.tmp-*')), 'the writer never started its temporary folder'
    time.sleep(1.0)  # well inside the writing
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 128 + signal.SIGTERM, err[-2000:]
    assert 'terminated (SIGTERM)' in err and 'Traceback' not in err
    assert not out.exists() and not list(tmp_path.glob('.data.tmp-*'))
