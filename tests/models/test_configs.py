"""The detector configs: sizes agree across parts, and the nuScenes pipeline rescales the cameras."""
from pathlib import Path

import numpy as np
import pytest
from mmengine.config import Config
from mmengine.runner import Runner

import ccu_av.datasets  # noqa: F401
from mmdet3d.registry import MODELS

from model_fixtures import BASE_MODEL_CFG  # noqa: F401  (registers modules, default scope)

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'


@pytest.mark.parametrize('name, grid, feat', [
    ('pretrain_camradar_bevfusion.py', (48, 48), (12, 22)),
    ('pretrain_camradar_bevfusion_nuscenes.py', (128, 128), (48, 88)),
])
def test_model_parts_share_one_grid(name, grid, feat):
    cfg = Config.fromfile(str(CONFIGS / name))
    model = MODELS.build(cfg.model)
    assert model.view_transform.grid.shape == model.radar_encoder.grid.shape == grid
    assert tuple(cfg.model.train_cfg.grid_size[:2]) == grid
    assert model.view_transform.feature_size == feat
    assert model.img_aux_head.num_classes == 10


def test_nuscenes_pipeline_rescales_cameras(tiny_nuscenes):
    cfg = Config.fromfile(str(CONFIGS / 'pretrain_camradar_bevfusion_nuscenes.py'))
    loader = cfg.val_dataloader
    loader.update(num_workers=0, persistent_workers=False)
    loader.dataset.update(data_root=tiny_nuscenes['root'], ann_file=tiny_nuscenes['val'])
    sample = Runner.build_dataloader(loader).dataset[0]
    assert tuple(sample['inputs']['img'].shape) == (6, 3, 384, 704)
    meta = sample['data_samples'].metainfo
    cam2img, lidar2cam, lidar2img = (np.asarray(meta[k]) for k in ('cam2img', 'lidar2cam', 'lidar2img'))
    # the tiny cameras have f = 20 px and centre (20, 12) on 40x24 images
    assert np.allclose(cam2img[:, 0, 0], 20 * 704 / 40) and np.allclose(cam2img[:, 1, 1], 20 * 384 / 24)
    assert np.allclose(cam2img[:, 0, 2], 20 * 704 / 40) and np.allclose(cam2img[:, 1, 2], 12 * 384 / 24)
    assert np.allclose(lidar2img, cam2img @ lidar2cam)
