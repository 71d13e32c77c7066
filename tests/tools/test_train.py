"""tools/train.py end to end on the tiny nuScenes dataroot of tests/conftest.py."""
import sys
from pathlib import Path

import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / 'tools'), str(ROOT / 'tests' / 'models')]

import train as train_tool  # noqa: E402  (tools/train.py)
from model_fixtures import tiny_model_cfg  # noqa: E402

from ccu_av.utils.checkpoint import load_checkpoint_file  # noqa: E402


def write_config(tmp_path, tiny_nuscenes, max_iters=2, **model_kw) -> str:
    """The real pretraining config on the tiny dataroot with a tiny model and 2 iterations."""
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pretrain_camradar_bevfusion.py'))
    cfg.model = tiny_model_cfg(num_cams=6, image_size=(24, 40), **model_kw)
    for loader, info in ((cfg.train_dataloader, tiny_nuscenes['train']), (cfg.val_dataloader, tiny_nuscenes['val'])):
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=tiny_nuscenes['root'], ann_file=info)
    cfg.test_dataloader = cfg.val_dataloader
    cfg.test_evaluator.update(data_root=tiny_nuscenes['root'], version=tiny_nuscenes['version'])
    cfg.val_dataloader = cfg.val_evaluator = cfg.val_cfg = None  # no validation while training
    cfg.train_cfg.update(max_iters=max_iters)
    cfg.param_scheduler = [dict(type='LinearLR', start_factor=0.5, by_epoch=False, begin=0, end=2)]
    cfg.default_hooks.checkpoint.update(interval=1, max_keep_ckpts=5)
    cfg.default_hooks.logger.update(interval=1)
    path = str(tmp_path / f'tiny_{max_iters}.py')
    cfg.dump(path)
    return path


def state_dict(path):
    return load_checkpoint_file(path)['state_dict']


@pytest.mark.slow
def test_same_seed_same_checkpoint_and_resume(tmp_path, tiny_nuscenes):
    config = write_config(tmp_path, tiny_nuscenes)
    for run in ('a', 'b'):
        train_tool.main([config, '--work-dir', str(tmp_path / run)])
    a, b = state_dict(tmp_path / 'a' / 'iter_2.pth'), state_dict(tmp_path / 'b' / 'iter_2.pth')
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    first = state_dict(tmp_path / 'a' / 'iter_1.pth')
    assert any(not torch.equal(first[k], a[k]) for k in a)  # training changed the weights
    # resume the 2-iteration run for a third iteration
    longer = write_config(tmp_path, tiny_nuscenes, max_iters=3)
    train_tool.main([longer, '--work-dir', str(tmp_path / 'a'), '--resume', str(tmp_path / 'a' / 'iter_2.pth')])
    assert load_checkpoint_file(tmp_path / 'a' / 'iter_3.pth')['meta']['iter'] == 3
