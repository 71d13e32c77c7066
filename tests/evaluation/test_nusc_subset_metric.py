import numpy as np
import pytest
import torch
from mmdet3d.registry import METRICS
from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
from mmengine.evaluator import Evaluator
from mmengine.structures import InstanceData
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.utils.data_classes import Box
from pyquaternion import Quaternion

from ccu_av.evaluation import nusc_subset_eval
from ccu_av.evaluation.nusc_format import NUSCENES_CLASSES, lidar_poses_from_nusc
from ccu_av.evaluation.nusc_subset_metric import NuScenesSubsetMetric, get_evaluator
from tiny_nusc_tables import VERSION


def _lidar_ground_truth(nusc, token):
    """The sample's detection-class annotations as a LiDAR-frame prediction (what a perfect
    detector outputs), with the poses used."""
    lidar2ego, ego2global = lidar_poses_from_nusc(nusc, token)
    rows, labels = [], []
    for ann_token in nusc.get('sample', token)['anns']:
        ann = nusc.get('sample_annotation', ann_token)
        name = category_to_detection_name(ann['category_name'])
        # the devkit drops ground truth without lidar or radar points (a prediction there is a
        # false positive), so a perfect detector does not see those
        if name is None or ann['num_lidar_pts'] + ann['num_radar_pts'] == 0:
            continue
        box = Box(ann['translation'], ann['size'], Quaternion(ann['rotation']),
                  velocity=tuple(np.nan_to_num(nusc.box_velocity(ann_token))))
        for pose in (ego2global, lidar2ego):
            box.translate(-pose[:3, 3])
            box.rotate(Quaternion(matrix=pose[:3, :3]).inverse)
        w, l, h = box.wlh
        rows.append([*box.center[:2], box.center[2] - h / 2, l, w, h,
                     box.orientation.yaw_pitch_roll[0], *box.velocity[:2]])
        labels.append(NUSCENES_CLASSES.index(name))
    return np.array(rows).reshape(-1, 9), np.array(labels), lidar2ego, ego2global


def _data_sample(nusc, token, with_poses=True, modality=None, drop=False):
    rows, labels, lidar2ego, ego2global = _lidar_ground_truth(nusc, token)
    if drop:
        rows, labels = rows[::2], labels[::2]
    metainfo = dict(token=token)
    if with_poses:
        metainfo.update(lidar2ego=lidar2ego, ego2global=ego2global)
    if modality:
        metainfo['modality'] = modality
    sample = Det3DDataSample(metainfo=metainfo)
    pred = InstanceData()
    pred.bboxes_3d = LiDARInstance3DBoxes(torch.tensor(rows, dtype=torch.float32), box_dim=9)
    pred.scores_3d = torch.linspace(1.0, 0.5, len(rows))
    pred.labels_3d = torch.tensor(labels)
    sample.pred_instances_3d = pred
    return sample


def _run(metric_cfg, samples):
    evaluator = Evaluator(METRICS.build(metric_cfg))
    evaluator.dataset_meta = dict(classes=NUSCENES_CLASSES)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


@pytest.fixture
def cfg(tiny_dataroot):
    return dict(type='NuScenesSubsetMetric', data_root=str(tiny_dataroot), version=VERSION,
                subsets=dict(val='mini_val', forget='forget', all=None))


def test_perfect_lidar_predictions_score_full_ap(cfg, tiny_nusc):
    samples = [_data_sample(tiny_nusc, s['token']) for s in tiny_nusc.sample]
    figures = _run(cfg, samples)
    assert len(figures) == 3 * 17
    for subset in cfg['subsets']:
        prefix = f'nuscenes/{subset}/fusion/'
        aps = {k: v for k, v in figures.items() if k.startswith(prefix + 'AP_')}
        # AP 1 for every class with ground truth in the set, 0 for the others
        assert all(v == pytest.approx(1.0) or v == 0.0 for v in aps.values()), aps
        assert figures[prefix + 'AP_car'] == pytest.approx(1.0)
        assert figures[prefix + 'mAP'] == pytest.approx(sum(aps.values()) / 10)
        assert figures[prefix + 'mATE'] < 1e-4 and figures[prefix + 'mASE'] < 1e-4
        assert figures[prefix + 'mAOE'] < 1e-3
    # poses from the tables give the same figures as poses from the metainfo
    without_poses = _run(cfg, [_data_sample(tiny_nusc, s['token'], with_poses=False)
                               for s in tiny_nusc.sample])
    assert without_poses == pytest.approx(figures, abs=1e-9)


def test_modes_and_sets_are_reported_separately(cfg, tiny_nusc):
    tokens = get_evaluator(cfg['data_root'], VERSION).resolve('mini_val')
    fusion = [_data_sample(tiny_nusc, t, modality='fusion') for t in tokens]
    camera = [_data_sample(tiny_nusc, t, modality='camera', drop=True) for t in tokens]
    figures = _run(dict(cfg, subsets=dict(val='mini_val', part=tokens[:4])), fusion + camera)
    assert {key.split('/')[2] for key in figures} == {'fusion', 'camera'}
    assert {key.split('/')[1] for key in figures} == {'val', 'part'}
    assert figures['nuscenes/val/camera/mAP'] < figures['nuscenes/val/fusion/mAP'] - 0.2


def test_ground_truth_shared_between_metric_instances(cfg, tiny_nusc, monkeypatch):
    evaluator = get_evaluator(cfg['data_root'], VERSION)
    tokens = evaluator.resolve('forget')
    samples = [_data_sample(tiny_nusc, t) for t in tokens]
    first = _run(dict(cfg, subsets=dict(forget='forget')), samples)
    loads = []
    original = nusc_subset_eval.load_gt_of_sample_tokens
    monkeypatch.setattr(nusc_subset_eval, 'load_gt_of_sample_tokens',
                        lambda *args, **kwargs: loads.append(args[1]) or original(*args, **kwargs))
    second = _run(dict(cfg, subsets=dict(forget='forget')), samples)
    assert get_evaluator(cfg['data_root'], VERSION) is evaluator
    assert loads == [] and second == first


def test_bad_input(cfg, tiny_nusc, tmp_path):
    sample = _data_sample(tiny_nusc, tiny_nusc.sample[0]['token'])
    no_token = Det3DDataSample(metainfo={})
    no_token.pred_instances_3d = sample.pred_instances_3d
    with pytest.raises(KeyError, match="no 'token'"):
        _run(cfg, [no_token])
    # the val split has samples without predictions
    with pytest.raises(ValueError, match="set 'val': no prediction entry"):
        _run(cfg, [sample])
    with pytest.raises(ValueError, match='predicted twice'):
        _run(dict(cfg, subsets=dict(all=None)), [sample, sample])
    with pytest.raises(ValueError, match='no predictions were collected'):
        _run(cfg, [])
    with pytest.raises(ValueError, match='subsets is empty'):
        NuScenesSubsetMetric(cfg['data_root'], VERSION, subsets={})
    with pytest.raises(FileNotFoundError, match='no nuScenes tables'):
        _run(dict(cfg, data_root=str(tmp_path)), [sample])
    unknown = _data_sample(tiny_nusc, tiny_nusc.sample[0]['token'], with_poses=False)
    unknown.set_metainfo(dict(token='not-a-sample'))
    with pytest.raises(ValueError, match='not-a-sample is not in'):
        _run(dict(cfg, subsets=dict(all=None)), [unknown])
    evaluator = Evaluator(METRICS.build(dict(cfg, subsets=dict(all=None))))
    evaluator.dataset_meta = dict(classes=('car', 'van'))
    evaluator.process([sample])
    with pytest.raises(ValueError, match='not nuScenes detection classes'):
        evaluator.evaluate(1)


def test_registered():
    assert METRICS.get('NuScenesSubsetMetric') is NuScenesSubsetMetric


def test_dataset_ground_truth_scores_full_ap(tmp_path):
    """Across layers: the synthetic writer's tables, create_data's info file and the dataset's
    LiDAR boxes, given back as predictions, score AP 1 against the devkit's ground truth."""
    from ccu_av.datasets import CamRadarNuScenesDataset, create_nuscenes_infos
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    config = SyntheticNuScenesConfig(
        locations=('boston-seaport',), takedown_location='boston-seaport',
        train_scenes_per_location=1, val_scenes_per_location=1, samples_per_scene=3,
        image_width=32, image_height=16, lidar_beams=4, lidar_azimuth_steps=90,
        radar_lead_sweeps=0, radar_sweeps_per_interval=1, private_sites=0)
    summary = write_synthetic_nuscenes(tmp_path / 'data', config, seed=0)
    infos = create_nuscenes_infos(str(tmp_path / 'data'), config.version, str(tmp_path / 'infos'),
                                  max_radar_sweeps=1)
    # the valid flag (lidar + radar points > 0) is the devkit's own ground-truth filter
    dataset = CamRadarNuScenesDataset(str(tmp_path / 'data'), infos['val'], pipeline=[],
                                      use_valid_flag=True)
    samples = []
    for i in range(len(dataset)):
        info = dataset.get_data_info(i)
        sample = Det3DDataSample(metainfo=dict(token=info['token'], ego2global=info['ego2global'],
                                               lidar2ego=info['lidar_points']['lidar2ego']))
        pred = InstanceData()
        pred.bboxes_3d = info['ann_info']['gt_bboxes_3d']
        pred.labels_3d = torch.as_tensor(info['ann_info']['gt_labels_3d'])
        pred.scores_3d = torch.linspace(1.0, 0.5, len(pred.labels_3d))
        sample.pred_instances_3d = pred
        samples.append(sample)
    val_split = [name for name in summary['splits'] if name.startswith('synthetic_val')][0]
    figures = _run(dict(type='NuScenesSubsetMetric', data_root=str(tmp_path / 'data'),
                        version=config.version, subsets=dict(val=val_split)), samples)
    aps = {k: v for k, v in figures.items() if '/AP_' in k}
    assert all(v == pytest.approx(1.0) or v == 0.0 for v in aps.values()), aps
    assert sum(v > 0 for v in aps.values()) >= 4
    # matched boxes have no error; a class without ground truth counts error 1
    absent = sum(v == 0.0 for v in aps.values())
    assert figures['nuscenes/val/fusion/mATE'] == pytest.approx(absent / 10, abs=1e-4)
    assert figures['nuscenes/val/fusion/mASE'] == pytest.approx(absent / 10, abs=1e-4)
