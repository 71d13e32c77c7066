"""A tiny CamRadarBEVFusion config on the tiny nuScenes dataroot of tests/conftest.py, and a
checkpoint of it, for the modality-mode evaluation and membership-inference tests."""
import sys
from pathlib import Path

import torch
from mmdet3d.registry import MODELS
from mmengine.config import Config
from mmengine.registry import init_default_scope

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / 'tests' / 'models'))

from model_fixtures import tiny_model_cfg  # noqa: E402


def tiny_config(tiny_nuscenes: dict, **model_kw) -> Config:
    """configs/pretrain_camradar_bevfusion.py with a tiny model on the tiny dataroot."""
    cfg = Config.fromfile(str(ROOT / 'configs' / 'pretrain_camradar_bevfusion.py'))
    cfg.model = tiny_model_cfg(num_cams=6, image_size=(24, 40), **model_kw)
    # an untrained head scores every cell near its prior: keep 20 boxes a task, not 150, so
    # the devkit's matching stays fast
    cfg.model.test_cfg.post_max_size = 20
    for loader, info in ((cfg.train_dataloader, tiny_nuscenes['train']),
                         (cfg.test_dataloader, tiny_nuscenes['val'])):
        loader.update(batch_size=2, num_workers=0, persistent_workers=False)
        loader.dataset.update(data_root=tiny_nuscenes['root'], ann_file=info)
    cfg.test_evaluator.update(data_root=tiny_nuscenes['root'], version=tiny_nuscenes['version'])
    return cfg


def save_checkpoint(cfg: Config, path, seed: int = 0) -> str:
    """A freshly initialised model of ``cfg`` saved as an mmengine-style checkpoint."""
    init_default_scope('mmdet3d')
    torch.manual_seed(seed)
    model = MODELS.build(cfg.model)
    model.init_weights()
    torch.save(dict(state_dict=model.state_dict(), meta=dict(seed=seed)), str(path))
    return str(path)


def scene_tokens(name: str, num_samples: int = 3) -> list:
    """Sample tokens of a scene of the tiny dataroot (``sample-<scene>-<k>``)."""
    return [f'sample-{name}-{k}' for k in range(num_samples)]


TINY_SETS = dict(forget=scene_tokens('scene-0001'),
                 retain=scene_tokens('scene-0002') + scene_tokens('scene-0003'),
                 val=scene_tokens('scene-0004'))
