"""The membership attack's pipeline: declared by the dataset configs, deterministic, at the
detector's image size."""
import random
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from mmdet3d.registry import DATASETS
from mmengine.config import Config
from mmengine.registry import init_default_scope

import ccu_av  # noqa: F401  (registers the dataset and transforms)
from ccu_av.evaluation.membership import membership_pipeline
from ccu_av.evaluation.modal_eval import base_dataset_cfg

CONFIGS = Path(__file__).resolve().parents[2] / 'configs'
SYNTHETIC, NUSCENES = 'pretrain_camradar_bevfusion.py', 'pretrain_camradar_bevfusion_nuscenes.py'


def load(name: str) -> Config:
    return Config.fromfile(str(CONFIGS / name))


def read_sample(cfg: Config, tiny: dict, seed: int) -> dict:
    """The first training sample of the tiny dataroot through ``membership_pipeline(cfg)``
    (built by the dataset as an mmengine ``Compose`` from the registry), every RNG seeded first."""
    init_default_scope('mmdet3d')
    dataset = DATASETS.build(dict(base_dataset_cfg(cfg.train_dataloader.dataset), data_root=tiny['root'],
                                  ann_file=tiny['train'], pipeline=membership_pipeline(cfg),
                                  test_mode=False, filter_empty_gt=False))
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    return dataset[0]


def arrays(sample: dict) -> dict:
    """What the attack's losses read from a packed sample, as arrays."""
    data = sample['data_samples']
    return dict(img=sample['inputs']['img'], points=sample['inputs']['points'],
                boxes=data.gt_instances_3d.bboxes_3d.tensor, labels=data.gt_instances_3d.labels_3d,
                depth=data.gt_depth, lidar2img=data.metainfo['lidar2img'])


def same(a: dict, b: dict) -> bool:
    return all(np.array_equal(np.asarray(a[key]), np.asarray(b[key])) for key in a)


@pytest.mark.parametrize('name', [SYNTHETIC, NUSCENES])
def test_membership_pipeline_is_made_of_train_steps(name):
    cfg = load(name)
    steps = membership_pipeline(cfg)
    train = iter(base_dataset_cfg(cfg.train_dataloader.dataset)['pipeline'])
    # every step is a step of the train pipeline, in its order
    assert all(any(step == train_step for train_step in train) for step in steps)
    types = [step['type'] for step in steps]
    for needed in ('ComposeCameraMatrices', 'LoadRadarSweeps', 'LoadLidarDepthTargets', 'LoadAnnotations3D'):
        assert needed in types  # the camera losses need their targets
    assert 'gt_bboxes_3d' in steps[-1]['keys']


@pytest.mark.parametrize('name', [SYNTHETIC, NUSCENES])
def test_membership_pipeline_reads_a_sample_alike_under_any_seed(name, tiny_nuscenes):
    cfg = load(name)
    first, second = (arrays(read_sample(cfg, tiny_nuscenes, seed)) for seed in (0, 1))
    assert same(first, second)
    assert len(first['labels']) > 0 and (first['depth'] > 0).any()


def test_the_seed_check_catches_a_random_augmentation(tiny_nuscenes):
    cfg = load(SYNTHETIC)
    steps = list(cfg.membership_pipeline)
    after = [step['type'] for step in steps].index('LoadAnnotations3D') + 1
    cfg.membership_pipeline = steps[:after] + [dict(
        type='GlobalRotScaleTrans', rot_range=[-0.785, 0.785], scale_ratio_range=[1.0, 1.0],
        translation_std=[0.0, 0.0, 0.0])] + steps[after:]
    assert not same(*(arrays(read_sample(cfg, tiny_nuscenes, seed)) for seed in (0, 1)))


def test_nuscenes_membership_pipeline_resizes_to_the_detector_image_size(tiny_nuscenes):
    cfg = load(NUSCENES)
    H, W = cfg.model.view_transform.image_size
    sample = read_sample(cfg, tiny_nuscenes, seed=0)  # the tiny cameras are 24x40
    assert tuple(sample['inputs']['img'].shape) == (6, 3, H, W)
    assert tuple(sample['data_samples'].gt_depth.shape) == (6, H, W)


def test_a_config_without_membership_pipeline_is_refused(tmp_path):
    with pytest.raises(ValueError, match='the config has no membership_pipeline'):
        membership_pipeline(Config(dict(train_pipeline=[dict(type='LoadAnnotations3D')])))
    path = tmp_path / 'no_membership.py'
    path.write_text("train_pipeline = [dict(type='LoadAnnotations3D')]\n")
    with pytest.raises(ValueError, match=f'config {re.escape(str(path))} has no membership_pipeline'):
        membership_pipeline(Config.fromfile(str(path)))
    with pytest.raises(ValueError, match='membership_pipeline of the config: expected a list of transform dicts'):
        membership_pipeline(Config(dict(membership_pipeline=dict(type='LoadAnnotations3D'))))
