"""The camera+radar dataset: packed inputs through the pipeline, restriction to samples and scenes."""
import copy
import json
import os.path as osp

import pytest
import torch
from mmdet3d.models.data_preprocessors import Det3DDataPreprocessor
from mmdet3d.registry import DATASETS
from mmdet3d.structures import LiDARInstance3DBoxes
from mmengine.config import Config
from mmengine.dataset import pseudo_collate
from mmengine.registry import init_default_scope

import ccu_av.datasets  # noqa: F401  (registers the dataset and transforms)
from ccu_av.datasets.nuscenes_converter import CLASSES

CONFIG = osp.join(osp.dirname(__file__), '..', '..', 'configs', '_base_', 'datasets', 'camradar_synthetic.py')

PIPELINE = [
    dict(type='LoadMultiViewImageFromFiles', num_views=6),
    dict(type='ComposeCameraMatrices'),
    dict(type='LoadRadarSweeps', num_sweeps=6),
    dict(type='LoadLidarDepthTargets'),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True),
    dict(type='PackCamRadarInputs', keys=['img', 'points', 'gt_bboxes_3d', 'gt_labels_3d']),
]


def build(tiny, split='train', **kwargs):
    init_default_scope('mmdet3d')
    return DATASETS.build(dict(type='CamRadarNuScenesDataset', data_root=tiny['root'], ann_file=tiny[split],
                               pipeline=copy.deepcopy(PIPELINE), **kwargs))


def test_dataset_returns_packed_camera_radar_inputs(tiny_nuscenes):
    dataset = build(tiny_nuscenes)
    assert len(dataset) == 9 and dataset.metainfo['classes'] == CLASSES
    item = dataset[1]
    inputs, sample = item['inputs'], item['data_samples']
    assert inputs['img'].shape == (6, 3, 24, 40) and inputs['img'].dtype == torch.uint8
    # 5 radars x 6 sweeps (the info holds 6 for the second sample) x 2 valid returns each
    assert inputs['points'].shape == (5 * 6 * 2, 7)
    assert sample.gt_depth.shape == (6, 24, 40) and (sample.gt_depth > 0).any()
    boxes = sample.gt_instances_3d.bboxes_3d
    assert isinstance(boxes, LiDARInstance3DBoxes) and boxes.tensor.shape == (2, 9)  # with velocity
    assert sample.gt_instances_3d.labels_3d.tolist() == [CLASSES.index('car'), CLASSES.index('pedestrian')]
    assert sample.metainfo['token'] == 'sample-scene-0001-1' and sample.metainfo['scene_name'] == 'scene-0001'


def test_batches_go_through_the_mmdet3d_data_preprocessor(tiny_nuscenes):
    dataset = build(tiny_nuscenes)
    batch = pseudo_collate([dataset[0], dataset[4]])
    preprocessor = Det3DDataPreprocessor(mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True)
    out = preprocessor(batch, training=True)
    assert out['inputs']['imgs'].shape == (2, 6, 3, 24, 40) and out['inputs']['imgs'].dtype == torch.float32
    assert [p.shape[1] for p in out['inputs']['points']] == [7, 7]
    assert [s.gt_depth.shape for s in out['data_samples']] == [(6, 24, 40)] * 2


def test_restrict_to_sample_tokens_inline_and_from_file(tiny_nuscenes, tmp_path):
    tokens = ['sample-scene-0002-0', 'sample-scene-0003-2']
    dataset = build(tiny_nuscenes, sample_tokens=tokens)
    assert [dataset.get_data_info(i)['token'] for i in range(len(dataset))] == tokens
    path = tmp_path / 'forget_tokens.json'
    path.write_text(json.dumps(tokens))
    assert len(build(tiny_nuscenes, sample_tokens=str(path))) == 2


def test_restrict_to_scenes_by_name_or_token(tiny_nuscenes):
    dataset = build(tiny_nuscenes, scenes=['scene-0001', 'scene-token-scene-0003'])
    assert sorted({dataset.get_data_info(i)['scene_name'] for i in range(len(dataset))}) == ['scene-0001', 'scene-0003']
    assert len(dataset) == 6


@pytest.mark.parametrize('kwargs, message', [
    (dict(sample_tokens=['sample-scene-0004-0']), '1 sample tokens not in'),
    (dict(scenes=['scene-0404']), '1 scenes not in'),
    (dict(sample_tokens=['sample-scene-0001-0'], scenes=['scene-0002']), 'no sample of'),
])
def test_bad_restrictions_are_named(tiny_nuscenes, kwargs, message):
    with pytest.raises(ValueError, match=message):
        build(tiny_nuscenes, **kwargs)


def test_token_file_must_be_a_list(tiny_nuscenes, tmp_path):
    path = tmp_path / 'tokens.json'
    path.write_text('{"forget": []}')
    with pytest.raises(ValueError, match='tokens.json: expected a JSON list'):
        build(tiny_nuscenes, sample_tokens=str(path))


def test_validation_set_in_test_mode_keeps_eval_annotations(tiny_nuscenes):
    pipeline = PIPELINE[:3] + [dict(type='PackCamRadarInputs', keys=['img', 'points'])]
    init_default_scope('mmdet3d')
    dataset = DATASETS.build(dict(type='CamRadarNuScenesDataset', data_root=tiny_nuscenes['root'],
                                  ann_file=tiny_nuscenes['val'], pipeline=pipeline, test_mode=True))
    item = dataset[2]
    assert len(dataset) == 3 and item['data_samples'].metainfo['scene_name'] == 'scene-0004'
    assert item['data_samples'].eval_ann_info['gt_labels_3d'].tolist() == [0, 8]


@pytest.fixture(scope='module')
def small_synthetic(tmp_path_factory):
    """A small dataroot from the project's synthetic writer, converted by the same code path."""
    from ccu_av.datasets.nuscenes_converter import create_nuscenes_infos
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    root = str(tmp_path_factory.mktemp('synthetic') / 'root')
    config = SyntheticNuScenesConfig(locations=('boston-seaport', 'singapore-onenorth'), train_scenes_per_location=2,
                                     val_scenes_per_location=1, samples_per_scene=3, takedown_location='boston-seaport',
                                     objects_per_scene=(3, 5), lidar_azimuth_steps=90, image_width=32, image_height=16,
                                     private_sites=0)
    summary = write_synthetic_nuscenes(root, config, seed=0)
    return dict(summary=summary, **create_nuscenes_infos(root, config.version, root))


def test_default_config_loads_synthetic_data(small_synthetic):
    cfg = Config.fromfile(CONFIG)  # also imports ccu_av.datasets through custom_imports
    init_default_scope('mmdet3d')
    train_cfg = cfg.train_dataloader.dataset
    train_cfg.update(data_root=small_synthetic['summary']['dataroot'], ann_file=small_synthetic['train'])
    train = DATASETS.build(train_cfg)
    assert len(train) == 12  # 4 training scenes x 3 samples
    item = train[0]
    assert item['inputs']['img'].shape == (6, 3, 16, 32)
    points = item['inputs']['points']
    assert points.shape[1] == 7 and len(points) > 0
    assert (points[:, :2].abs() <= 25.6).all()  # PointsRangeFilter
    assert (points[:, 6] >= -0.1).all() and points[:, 6].max() > 0.1  # several sweeps, older ones lag
    assert item['data_samples'].gt_depth.shape == (6, 16, 32) and (item['data_samples'].gt_depth > 0).any()
    assert len(item['data_samples'].gt_instances_3d.labels_3d) > 0

    val_cfg = cfg.val_dataloader.dataset
    val_cfg.update(data_root=small_synthetic['summary']['dataroot'], ann_file=small_synthetic['val'])
    val = DATASETS.build(val_cfg)
    assert len(val) == 6 and 'gt_depth' not in val[0]['data_samples']


def test_takedown_of_a_synthetic_location(small_synthetic):
    from ccu_av.datasets import TakedownRequest, select_from_info_file
    selection = select_from_info_file(small_synthetic['train'], TakedownRequest(locations=('boston-seaport',)))
    assert list(selection.forget_scenes) == small_synthetic['summary']['takedown_scenes']
    forget = build(dict(root=small_synthetic['summary']['dataroot'], train=small_synthetic['train']),
                   sample_tokens=list(selection.forget_tokens))
    assert len(forget) == 6 and {forget.get_data_info(i)['location'] for i in range(6)} == {'boston-seaport'}


def test_erased_camera_footage_is_never_read(tiny_nuscenes, tmp_path):
    """camera_erased_tokens: black images, no depth targets, radar and boxes kept, files unread."""
    import shutil
    root = tmp_path / 'copy'
    shutil.copytree(tiny_nuscenes['root'], root)
    tiny = dict(tiny_nuscenes, root=str(root))
    pipeline = copy.deepcopy(PIPELINE)
    pipeline[0] = dict(type='LoadCameraImages', num_views=6, erased_image_size=(24, 40))
    init_default_scope('mmdet3d')
    kept = DATASETS.build(dict(type='CamRadarNuScenesDataset', data_root=tiny['root'],
                               ann_file=tiny['train'], pipeline=copy.deepcopy(pipeline)))[1]
    erased_token = kept['data_samples'].metainfo['token']
    # the takedown erases the footage: delete the sample's image files
    for cam in kept['data_samples'].metainfo['img_path']:
        osp.isfile(cam) and __import__('os').remove(cam)
    dataset = DATASETS.build(dict(type='CamRadarNuScenesDataset', data_root=tiny['root'],
                                  ann_file=tiny['train'], pipeline=pipeline,
                                  camera_erased_tokens=[erased_token]))
    item = dataset[1]
    sample = item['data_samples']
    assert sample.metainfo['token'] == erased_token and sample.metainfo['camera_erased'] is True
    assert item['inputs']['img'].shape == (6, 3, 24, 40) and item['inputs']['img'].abs().sum() == 0
    assert sample.gt_depth.shape == (6, 24, 40) and sample.gt_depth.abs().sum() == 0
    assert torch.equal(item['inputs']['points'], kept['inputs']['points'])  # radar kept
    assert torch.equal(sample.gt_instances_3d.bboxes_3d.tensor,
                       kept['data_samples'].gt_instances_3d.bboxes_3d.tensor)
    assert dataset[0]['data_samples'].metainfo['camera_erased'] is False
    assert dataset[0]['inputs']['img'].abs().sum() > 0


def test_unknown_camera_erased_token_is_named(tiny_nuscenes):
    with pytest.raises(ValueError, match='camera-erased tokens not in .*no-such-sample'):
        build(tiny_nuscenes, camera_erased_tokens=['no-such-sample'])
