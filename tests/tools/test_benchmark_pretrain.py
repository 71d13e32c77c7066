"""tools/benchmark_pretrain.py: the trained (or given) weights scored per modality by
``evaluate_modes`` on the test split of the tiny dataroot."""
import json
from pathlib import Path

import pytest
import torch

from tiny_detector import save_checkpoint, scene_tokens, tiny_config

from ccu_av.evaluation.modal_eval import evaluate_modes
from ccu_av.utils.checkpoint import load_checkpoint_file

MODES = ('fusion', 'camera', 'radar')
TEST_TOKENS = scene_tokens('scene-0004')  # the tiny dataroot's validation scene


@pytest.fixture(scope='module')
def benchmark(load_tool):
    """tools/benchmark_pretrain.py as a module (``main(argv)``)."""
    return load_tool('benchmark_pretrain')


def tiny_one_iter_config(tiny_nuscenes):
    """The tiny detector's config, trained for one iteration with a checkpoint at its end."""
    cfg = tiny_config(tiny_nuscenes)
    cfg.train_cfg.max_iters = 1
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=1)]
    cfg.default_hooks.checkpoint.update(interval=1)
    return cfg


def read_report(work_dir: Path) -> dict:
    with open(work_dir / 'benchmark.json') as f:
        return json.load(f)


def test_trained_weights_are_exported_and_scored_per_modality(benchmark, tiny_nuscenes, tmp_path, capsys):
    cfg = tiny_one_iter_config(tiny_nuscenes)
    cfg.dump(str(tmp_path / 'tiny.py'))
    work_dir = tmp_path / 'bench'
    benchmark.main([str(tmp_path / 'tiny.py'), '--work-dir', str(work_dir), '--profile-iters', '0'])
    report = read_report(work_dir)
    assert report['iterations'] == 1 and 'step_profile_seconds' not in report
    # the evaluated file holds the trained weights: those of the runner's last checkpoint
    exported = str(work_dir / 'benchmark_model.pth')
    assert report['checkpoint'] == exported
    ours, runners = (load_checkpoint_file(p)['state_dict'] for p in (exported, work_dir / 'iter_1.pth'))
    assert ours.keys() == runners.keys() and all(torch.equal(ours[k], runners[k]) for k in ours)
    # every modality's figures are evaluate_modes' on the test split, with one wall time for all
    figures = evaluate_modes(cfg, exported, dict(test=TEST_TOKENS))
    assert report['metrics'] == {mode: figures[mode]['test'] for mode in MODES}
    assert report['eval_samples'] == len(TEST_TOKENS) and report['eval_wall_seconds'] > 0
    printed = capsys.readouterr().out.splitlines()
    for mode in MODES:
        flat = report['metrics'][mode]
        assert f'{mode:8s} mAP {flat["mAP"]:.4f}, NDS {flat["NDS"]:.4f}' in printed


def test_given_checkpoint_is_scored_and_profiled(benchmark, tiny_nuscenes, tmp_path):
    cfg = tiny_one_iter_config(tiny_nuscenes)
    cfg.dump(str(tmp_path / 'tiny.py'))
    checkpoint = save_checkpoint(cfg, tmp_path / 'model.pth')
    work_dir = tmp_path / 'bench'
    benchmark.main([str(tmp_path / 'tiny.py'), '--work-dir', str(work_dir), '--checkpoint', checkpoint,
                    '--profile-iters', '1'])
    report = read_report(work_dir)
    assert report['checkpoint'] == checkpoint and 'iterations' not in report
    assert not (work_dir / 'benchmark_model.pth').exists()
    figures = evaluate_modes(cfg, checkpoint, dict(test=TEST_TOKENS))
    assert report['metrics'] == {mode: figures[mode]['test'] for mode in MODES}
    assert set(report['step_profile_seconds']) >= set(benchmark.STEP_PARTS)
