"""Bad input across the tools: each is refused with exit status 2 and a message that names what is
wrong, no traceback, and nothing written or changed (the inputs' and the output folders' sha256
before and after). ``docs/results.md`` lists these cases and what each gets."""
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[2]


def _tree(root: Path) -> dict:
    """Relative path -> sha256 of every file under ``root`` (folders as None)."""
    out = {}
    for path in sorted(root.rglob('*')):
        out[str(path.relative_to(root))] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else None
    return out


def _inputs(tmp: Path) -> dict:
    """The bad inputs of the table, written into ``tmp``."""
    (tmp / 'broken.py').write_text('a = 1\nb = (\n')
    (tmp / 'noise.pth').write_bytes(bytes(range(256)) * 16)
    (tmp / 'a_file').write_text('not a folder')
    (tmp / 'bad.yaml').write_text('id: [unclosed\n')
    (tmp / 'ledger.sqlite').write_bytes(b'SQLite format 3\x00' + b'\x00' * 100)  # a truncated database
    (tmp / 'fleet.py').write_text(f'takedown = dict(root={str(tmp / "fleet")!r}, ledger={str(tmp / "ledger.sqlite")!r}, '
                                  "job_config='configs/ccu_bevfusion.py')\n")
    (tmp / 'empty_root').mkdir()
    torch.save(dict(state_dict=dict(weight=torch.zeros(2))), tmp / 'other_arch.pth')
    (tmp / 'partial' / 'unlearn').mkdir(parents=True)  # what another job left when it failed part-way
    (tmp / 'partial' / 'job.json').write_text('{"config_sha256": "%s", "takedown": "[]", "state": "running"}' % ('0' * 64))
    (tmp / 'partial' / 'unlearn' / 'last_checkpoint').write_text('iter_10.pth')
    return dict(tmp=str(tmp), main_job=str(ROOT / 'configs' / 'ccu_bevfusion.py'),
                pretrain=str(ROOT / 'configs' / 'pretrain_camradar_bevfusion.py'))


# (tool, argv with {placeholders} of _inputs, what stderr must say)
CASES = [
    ('unlearn', ['{tmp}/missing.py'], r'config .*missing.py does not exist'),
    ('unlearn', ['{tmp}/broken.py'], r'broken.py: line 2: .*not valid Python'),
    ('unlearn', ['{main_job}', '--cfg-options', 'job.takedwn=[x]'], r"unknown job keys \['takedwn'\]"),
    ('unlearn', ['{main_job}', '--cfg-options', 'job.cache_dir'], r"expected key=value pairs, got \['job.cache_dir'\]"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/a_file'], r'a_file exists and is not a folder'),
    ('unlearn', ['{main_job}', '--launcher', 'pytorch'], '--launcher pytorch is refused'),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'job.synthetic.sed=3'],
     r"unknown job.synthetic keys \['sed'\]; job.synthetic has \[.*'seed'"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'job.membership_kwargs.fold=3'],
     r"unknown job.membership_kwargs keys \['fold'\]; job.membership_kwargs has \['folds'"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/partial', '--resume'], r'partial holds the partial run of another job'),
    # the method is built from the config before the work dir is claimed (it was not, once)
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'model.objective.w_camera_forgt=0.3'],
     r"model.objective \(CCU\): unknown arguments \['w_camera_forgt'\]; it takes \[.*'w_camera_forget'"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'model.objective.type=CCUX'],
     r"model.objective.type 'CCUX' is not a registered unlearning objective; registered: \[.*'CCU'"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'model.frozen_modules=[radar_encodr]'],
     r"frozen_modules \['radar_encodr'\] are not submodules of CamRadarBEVFusion"),
    ('unlearn', ['{main_job}', '--work-dir', '{tmp}/wd', '--cfg-options', 'custom_hooks.0.prepass_batch_sise=3'],
     r"custom_hooks\[0\] \(UnlearningHook\): .*unexpected keyword argument 'prepass_batch_sise'"),
    ('train', ['{tmp}/broken.py'], r'broken.py: line 2'),
    ('train', ['{tmp}/missing.py'], r'missing.py does not exist'),
    ('train', ['{pretrain}', '--work-dir', '{tmp}/wd', '--resume'], r'wd holds no checkpoint to resume from'),
    ('train', ['{pretrain}', '--work-dir', '{tmp}/wd', '--resume', '{tmp}/other_arch.pth'],
     r'other_arch.pth does not fit CamRadarBEVFusion \(\d+ differences\)'),
    ('test', ['{pretrain}', '{tmp}/missing.pth'], r'checkpoint .*missing.pth does not exist'),
    ('create_data', ['--root-path', '{tmp}/empty_root', '--version', 'v1.0-mini', '--out-dir', '{tmp}/out'],
     r"has no version folder 'v1.0-mini'"),
    ('make_synthetic_nuscenes', ['--out', '{tmp}/a_file'], r'a_file exists and is not an empty directory'),
    ('takedown', ['submit', '{tmp}/bad.yaml', '--config', '{tmp}/fleet.py'], r'bad.yaml is not valid YAML'),
    ('takedown', ['status', '--config', '{tmp}/fleet.py'], r'ledger.sqlite is not a valid ccu_av takedown ledger'),
    ('takedown', ['status', '--config', '{tmp}/missing.py'], r'fleet config .*missing.py does not exist'),
]


@pytest.mark.parametrize('tool, argv, message', CASES, ids=[f'{c[0]}-{i}' for i, c in enumerate(CASES)])
def test_bad_input_is_refused_in_one_message_and_changes_nothing(load_tool, tmp_path, capsys, tool, argv, message):
    inputs = _inputs(tmp_path)
    before = _tree(tmp_path)
    module = load_tool(tool)
    capsys.readouterr()
    with pytest.raises(SystemExit) as exit_:
        code = module.main([a.format(**inputs) for a in argv])
        raise SystemExit(code)  # the tools that return their exit status
    err = capsys.readouterr().err
    assert exit_.value.code == 2, err
    assert re.search(message, err), err
    assert 'Traceback' not in err
    assert _tree(tmp_path) == before


def test_a_refused_input_on_the_command_line_has_no_traceback_unless_asked(tmp_path):
    """The same through a real process, and CCU_DEBUG=1 for the traceback."""
    argv = [sys.executable, str(ROOT / 'tools' / 'unlearn.py'), str(tmp_path / 'missing.py')]
    done = subprocess.run(argv, cwd=str(ROOT), capture_output=True, text=True)
    assert done.returncode == 2 and done.stderr.strip().endswith('missing.py does not exist')
    assert 'Traceback' not in done.stderr
    debug = subprocess.run(argv, cwd=str(ROOT), capture_output=True, text=True, env=dict(os.environ, CCU_DEBUG='1'))
    assert debug.returncode == 1 and 'Traceback' in debug.stderr and 'FileNotFoundError' in debug.stderr
