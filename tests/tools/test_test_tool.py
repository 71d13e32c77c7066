"""tools/test.py: a checkpoint's figures per modality on the test split of the tiny dataroot."""
import json
from pathlib import Path

import pytest

from tiny_detector import save_checkpoint, scene_tokens, tiny_config

from ccu_av.evaluation.modal_eval import evaluate_modes

MODES = ('fusion', 'camera', 'radar')
TEST_TOKENS = scene_tokens('scene-0004')  # the tiny dataroot's validation scene


@pytest.fixture(scope='module')
def test_tool(load_tool):
    """tools/test.py as a module (``main(argv) -> exit code``)."""
    return load_tool('test')


@pytest.fixture(scope='module')
def tiny_setup(tiny_nuscenes, tmp_path_factory):
    """(config, config file, checkpoint) of the tiny detector on the tiny dataroot."""
    root = tmp_path_factory.mktemp('test_tool')
    cfg = tiny_config(tiny_nuscenes)
    cfg.dump(str(root / 'tiny.py'))
    return cfg, str(root / 'tiny.py'), save_checkpoint(cfg, root / 'model.pth')


def read_metrics(work_dir: Path) -> dict:
    with open(work_dir / 'test_metrics.json') as f:
        return json.load(f)


def test_figures_per_modality_are_evaluate_modes(test_tool, tiny_setup, tmp_path, capsys):
    cfg, config, checkpoint = tiny_setup
    work_dir, cache = tmp_path / 'test', str(tmp_path / 'cache')
    assert test_tool.main([config, checkpoint, '--work-dir', str(work_dir), '--cache-dir', cache]) == 0
    written = read_metrics(work_dir)
    assert written['num_samples'] == len(TEST_TOKENS) and written['checkpoint'] == checkpoint
    metrics = written['metrics']
    assert set(metrics) == set(MODES)
    for flat in metrics.values():
        assert 0.0 <= flat['mAP'] <= 1.0 and 0.0 <= flat['NDS'] <= 1.0
        assert 'AP_car' in flat and 'AP_pedestrian' in flat
    printed = capsys.readouterr().out.splitlines()
    for mode in MODES:
        assert f'{mode:8s} mAP {metrics[mode]["mAP"]:.4f}, NDS {metrics[mode]["NDS"]:.4f}' in printed
    # the same figures as the report's evaluator on the same samples (run afresh, no cache)
    figures = evaluate_modes(cfg, checkpoint, dict(test=TEST_TOKENS))
    assert metrics == {mode: figures[mode]['test'] for mode in MODES}
    # one modality, its predictions read from the cache
    assert test_tool.main([config, checkpoint, '--modalities', 'camera', '--work-dir', str(tmp_path / 'cam'),
                           '--cache-dir', cache]) == 0
    assert read_metrics(tmp_path / 'cam')['metrics'] == dict(camera=metrics['camera'])


def test_checkpoint_of_another_architecture_is_refused(test_tool, tiny_setup, tmp_path, capsys):
    _, config, checkpoint = tiny_setup
    other = ['--cfg-options', 'model.radar_encoder.out_channels=4', 'model.fuser.in_channels=[16,4]']
    assert test_tool.main([config, checkpoint, '--work-dir', str(tmp_path)] + other) == 2
    err = capsys.readouterr().err
    assert err.startswith(f'test: error: checkpoint {checkpoint} does not fit CamRadarBEVFusion')
    assert 'shape of radar_encoder.' in err
    assert not (tmp_path / 'test_metrics.json').exists()


@pytest.mark.parametrize('missing', ['config', 'checkpoint'])
def test_missing_file_is_named(test_tool, tiny_setup, tmp_path, capsys, missing):
    _, config, checkpoint = tiny_setup
    files = dict(config=config, checkpoint=checkpoint)
    files[missing] = str(tmp_path / 'absent')
    assert test_tool.main([files['config'], files['checkpoint'], '--work-dir', str(tmp_path)]) == 2
    assert capsys.readouterr().err == f'test: error: {missing} {tmp_path / "absent"} does not exist\n'
    assert list(tmp_path.iterdir()) == []
