"""The synthetic nuScenes writer end to end: the unmodified devkit loads, renders and evaluates what it writes."""
import dataclasses
import hashlib
import json
import os
import os.path as osp

import matplotlib
import numpy as np
import pytest
from nuscenes import NuScenes
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
from nuscenes.utils.geometry_utils import points_in_box
from PIL import Image

from ccu_av.datasets.synthetic import (META_FILE, TRAIN_SPLIT, VAL_SPLIT, SyntheticNuScenesConfig,
                                       write_synthetic_nuscenes)
from ccu_av.datasets.synthetic.radar import FIELDS

matplotlib.use('Agg')

TINY = SyntheticNuScenesConfig(train_scenes_per_location=1, val_scenes_per_location=1, samples_per_scene=3,
                               image_width=64, image_height=36, radar_lead_sweeps=3, lidar_azimuth_steps=360,
                               private_sites=0)
DETECTION_CLASSES = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle', 'bicycle',
                     'pedestrian', 'traffic_cone')
ALL_RADAR_STATES = dict(invalid_states=list(range(18)), dynprop_states=list(range(8)), ambig_states=list(range(5)))


@pytest.fixture(scope='module')
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp('synthetic') / 'nuscenes'
    summary = write_synthetic_nuscenes(root, TINY, seed=0)
    nusc = NuScenes(TINY.version, str(root), verbose=False)
    return dict(root=str(root), summary=summary, nusc=nusc)


def _tree_digest(root: str, table_only: bool = False) -> dict:
    digests = {}
    for folder, _, files in os.walk(root):
        for name in files:
            path = osp.join(folder, name)
            if table_only and not name.endswith('.json'):
                continue
            with open(path, 'rb') as f:
                digests[osp.relpath(path, root)] = hashlib.sha256(f.read()).hexdigest()
    return digests


def test_devkit_loads_all_tables(tiny):
    nusc, cfg = tiny['nusc'], TINY
    num_scenes = len(cfg.locations) * (cfg.train_scenes_per_location + cfg.val_scenes_per_location)
    assert len(nusc.scene) == num_scenes == tiny['summary']['num_scenes']
    assert len(nusc.sample) == num_scenes * cfg.samples_per_scene
    assert len(nusc.sensor) == 12 and len(nusc.category) == 23 and len(nusc.attribute) == 8
    assert len(nusc.visibility) == 4 and len(nusc.map) == len(cfg.locations)
    assert {log['location'] for log in nusc.log} == set(cfg.locations)
    sample = nusc.sample[0]
    assert set(sample['data']) == {'CAM_FRONT', 'CAM_FRONT_LEFT', 'CAM_FRONT_RIGHT', 'CAM_BACK', 'CAM_BACK_LEFT',
                                   'CAM_BACK_RIGHT', 'RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_FRONT_RIGHT',
                                   'RADAR_BACK_LEFT', 'RADAR_BACK_RIGHT', 'LIDAR_TOP'}
    for sd in nusc.sample_data:
        assert osp.isfile(osp.join(tiny['root'], sd['filename'])), sd['filename']
    # timestamps in microseconds at 2 Hz, ego pose per sample_data at its own time
    stamps = [nusc.get('sample', s)['timestamp'] for s in (sample['token'], sample['next'])]
    assert stamps[1] - stamps[0] == 500_000
    assert len(nusc.ego_pose) == len(nusc.sample_data)
    with open(osp.join(tiny['root'], META_FILE)) as f:
        assert json.load(f)['seed'] == 0


def test_every_detection_class_with_devkit_attributes(tiny):
    nusc = tiny['nusc']
    names = {category_to_detection_name(a['category_name']) for a in nusc.sample_annotation}
    assert names == set(DETECTION_CLASSES)
    allowed = {'pedestrian': {'pedestrian.moving', 'pedestrian.standing'},
               'bicycle': {'cycle.with_rider', 'cycle.without_rider'},
               'motorcycle': {'cycle.with_rider', 'cycle.without_rider'}}
    for ann in nusc.sample_annotation:
        name = category_to_detection_name(ann['category_name'])
        attributes = {nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']}
        if name in ('barrier', 'traffic_cone'):
            assert attributes == set()
        else:
            assert len(attributes) == 1
            assert attributes <= allowed.get(name, {'vehicle.moving', 'vehicle.stopped', 'vehicle.parked'})


def test_instances_are_tracked_with_constant_velocity(tiny):
    nusc = tiny['nusc']
    for instance in nusc.instance[:40]:
        chain, token = [], instance['first_annotation_token']
        while token:
            chain.append(nusc.get('sample_annotation', token))
            token = chain[-1]['next']
        assert len(chain) == instance['nbr_annotations'] and chain[-1]['token'] == instance['last_annotation_token']
        velocities = np.array([nusc.box_velocity(a['token']) for a in chain])
        np.testing.assert_allclose(velocities, np.broadcast_to(velocities[0], velocities.shape), atol=1e-6)
        attributes = {nusc.get('attribute', t)['name'] for a in chain for t in a['attribute_tokens']}
        speed = np.linalg.norm(velocities[0][:2])
        if attributes & {'vehicle.parked', 'vehicle.stopped', 'pedestrian.standing', 'cycle.without_rider'}:
            assert speed < 1e-6
        if attributes & {'vehicle.moving', 'pedestrian.moving'}:
            assert speed > 0.5


def test_radar_sweeps_between_key_frames(tiny):
    nusc = tiny['nusc']
    scene = nusc.scene[0]
    last = nusc.get('sample', scene['last_sample_token'])
    chain, token = [], last['data']['RADAR_FRONT']
    while token:
        chain.append(nusc.get('sample_data', token))
        token = chain[-1]['prev']
    expected = TINY.radar_lead_sweeps + (TINY.samples_per_scene - 1) * TINY.radar_sweeps_per_interval + 1
    assert len(chain) == expected
    assert sum(sd['is_key_frame'] for sd in chain) == TINY.samples_per_scene
    assert all(sd['filename'].startswith('sweeps/') for sd in chain if not sd['is_key_frame'])
    stamps = np.array([sd['timestamp'] for sd in chain[::-1]])
    assert np.all(np.diff(stamps) > 100_000) and np.all(np.diff(stamps) < 250_000)


@pytest.mark.filterwarnings('ignore::DeprecationWarning:nuscenes')  # the devkit's own map cropping
@pytest.mark.parametrize('channel', ['CAM_FRONT', 'RADAR_FRONT_LEFT', 'LIDAR_TOP'])
def test_render_sample_data(tiny, tmp_path, channel):
    nusc = tiny['nusc']
    out = tmp_path / f'{channel}.png'
    sample = nusc.sample[1]
    nusc.render_sample_data(sample['data'][channel], nsweeps=3 if channel.startswith('RADAR') else 1,
                            out_path=str(out), verbose=False)
    image = np.asarray(Image.open(out))
    assert image.shape[0] > 100 and image.std() > 0


def test_camera_jpeg_size_and_content(tiny):
    nusc = tiny['nusc']
    for channel in ('CAM_FRONT', 'CAM_BACK'):
        sd = nusc.get('sample_data', nusc.sample[0]['data'][channel])
        image = np.asarray(Image.open(osp.join(tiny['root'], sd['filename'])))
        assert image.shape == (TINY.image_height, TINY.image_width, 3) == (sd['height'], sd['width'], 3)
        assert image.std() > 10  # sky, ground and objects, not a flat picture
    cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
    intrinsic = np.array(cs['camera_intrinsic'])
    assert intrinsic[0, 2] == TINY.image_width / 2 and intrinsic[1, 2] == TINY.image_height / 2
    front = np.array(nusc.get('calibrated_sensor', nusc.get(
        'sample_data', nusc.sample[0]['data']['CAM_FRONT'])['calibrated_sensor_token'])['camera_intrinsic'])
    hfov = np.rad2deg(2 * np.arctan(TINY.image_width / 2 / front[0, 0]))
    assert hfov == pytest.approx(70.0) and np.rad2deg(2 * np.arctan(TINY.image_width / 2 / intrinsic[0, 0])) > 90


def test_lidar_file_round_trip(tiny):
    nusc = tiny['nusc']
    sd = nusc.get('sample_data', nusc.sample[0]['data']['LIDAR_TOP'])
    path = osp.join(tiny['root'], sd['filename'])
    raw = np.fromfile(path, dtype=np.float32).reshape(-1, 5)
    pc = LidarPointCloud.from_file(path)
    np.testing.assert_array_equal(pc.points, raw[:, :4].T)
    assert raw.shape[0] > 1000
    assert np.linalg.norm(raw[:, :3], axis=1).max() <= TINY.max_range + 0.1
    assert set(np.unique(raw[:, 4])) <= set(range(TINY.lidar_beams))


def test_point_counts_agree_with_devkit_recount(tiny):
    nusc = tiny['nusc']
    for sample in nusc.sample[:4]:
        lidar = LidarPointCloud.from_file(nusc.get_sample_data_path(sample['data']['LIDAR_TOP']))
        radars = {ch: RadarPointCloud.from_file(nusc.get_sample_data_path(sample['data'][ch]), **ALL_RADAR_STATES)
                  for ch in sample['data'] if ch.startswith('RADAR')}
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            _, boxes, _ = nusc.get_sample_data(sample['data']['LIDAR_TOP'], selected_anntokens=[ann_token])
            assert ann['num_lidar_pts'] == points_in_box(boxes[0], lidar.points[:3]).sum()
            radar_count = 0
            for channel, pc in radars.items():
                _, boxes, _ = nusc.get_sample_data(sample['data'][channel], selected_anntokens=[ann_token])
                radar_count += points_in_box(boxes[0], pc.points[:3]).sum()
            assert ann['num_radar_pts'] == radar_count
    lidar_counts = np.array([a['num_lidar_pts'] for a in nusc.sample_annotation])
    assert (lidar_counts > 0).mean() > 0.3 and (lidar_counts == 0).any()


def test_objects_beyond_range_have_no_points(tiny):
    nusc = tiny['nusc']
    for ann in nusc.sample_annotation:
        sample = nusc.get('sample', ann['sample_token'])
        pose = nusc.get('ego_pose', nusc.get('sample_data', sample['data']['LIDAR_TOP'])['ego_pose_token'])
        distance = np.linalg.norm(np.array(ann['translation'][:2]) - pose['translation'][:2])
        if distance - np.linalg.norm(ann['size'][:2]) / 2 > TINY.max_range + 5:
            assert ann['num_lidar_pts'] == 0 and ann['num_radar_pts'] == 0


def test_splits_json_and_detection_eval_of_ground_truth(tiny, tmp_path):
    """DetectionEval on the custom validation split scores ground truth (what its filters keep) as mAP 1."""
    nusc, summary = tiny['nusc'], tiny['summary']
    with open(osp.join(tiny['root'], TINY.version, 'splits.json')) as f:
        splits = json.load(f)
    assert splits == summary['splits']
    assert len(splits[TRAIN_SPLIT]) == len(TINY.locations) and len(splits[VAL_SPLIT]) == len(TINY.locations)
    assert not set(splits[TRAIN_SPLIT]) & set(splits[VAL_SPLIT])
    assert summary['takedown_scenes'] == splits[f'{TRAIN_SPLIT}_{TINY.takedown_location}']
    val_scenes = {s['token'] for s in nusc.scene if s['name'] in splits[VAL_SPLIT]}
    results, present = {}, set()
    for sample in nusc.sample:
        if sample['scene_token'] not in val_scenes:
            continue
        results[sample['token']] = []
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            if ann['num_lidar_pts'] + ann['num_radar_pts'] == 0:
                continue
            name = category_to_detection_name(ann['category_name'])
            attributes = [nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
            results[sample['token']].append(dict(
                sample_token=sample['token'], translation=ann['translation'], size=ann['size'],
                rotation=ann['rotation'], velocity=list(nusc.box_velocity(ann_token)[:2]), detection_name=name,
                detection_score=1.0, attribute_name=attributes[0] if attributes else ''))
            present.add(name)
    path = tmp_path / 'results.json'
    with open(path, 'w') as f:
        json.dump(dict(meta=dict(use_camera=True, use_lidar=False, use_radar=True, use_map=False,
                                 use_external=False), results=results), f)
    evaluator = DetectionEval(nusc, config_factory('detection_cvpr_2019'), str(path), VAL_SPLIT,
                              str(tmp_path / 'eval'), verbose=False)
    metrics, _ = evaluator.evaluate()
    assert present == set(DETECTION_CLASSES)  # every class has boxes the devkit's filters keep
    for name in present:
        assert metrics.get_label_ap(name, 2.0) == pytest.approx(1.0), name
    assert metrics.mean_ap == pytest.approx(1.0)


def test_same_seed_same_bytes_whatever_the_workers(tiny, tmp_path):
    again = write_synthetic_nuscenes(tmp_path / 'again', TINY, seed=0, workers=2)
    assert _tree_digest(again['dataroot']) == _tree_digest(tiny['root'])


def test_other_seed_differs(tmp_path):
    mini = dataclasses.replace(TINY, locations=('boston-seaport',), takedown_location='boston-seaport',
                               samples_per_scene=2)
    first = _tree_digest(write_synthetic_nuscenes(tmp_path / 'a', mini, seed=0)['dataroot'], True)
    second = _tree_digest(write_synthetic_nuscenes(tmp_path / 'b', mini, seed=1)['dataroot'], True)
    assert first.keys() == second.keys()
    differing = {name for name in first if first[name] != second[name]}
    assert {f'{TINY.version}/sample_annotation.json', f'{TINY.version}/ego_pose.json'} <= differing


def test_refuses_non_empty_output_and_leaves_no_temporary(tmp_path):
    target = tmp_path / 'taken'
    target.mkdir()
    (target / 'keep.txt').write_text('mine')
    with pytest.raises(FileExistsError, match='taken'):
        write_synthetic_nuscenes(target, TINY)
    assert (target / 'keep.txt').read_text() == 'mine'
    with pytest.raises(ValueError, match='locations'):
        write_synthetic_nuscenes(tmp_path / 'bad', SyntheticNuScenesConfig(locations=('atlantis',)))
    assert sorted(p.name for p in tmp_path.iterdir()) == ['taken']


def test_failure_midway_removes_the_temporary(tmp_path, monkeypatch):
    from ccu_av.datasets.synthetic import writer

    def broken(jobs, workers):
        raise RuntimeError('simulated crash')

    monkeypatch.setattr(writer, '_run', broken)
    with pytest.raises(RuntimeError, match='simulated crash'):
        write_synthetic_nuscenes(tmp_path / 'out', TINY)
    assert list(tmp_path.iterdir()) == []


def test_radar_files_carry_all_fields(tiny):
    nusc = tiny['nusc']
    sd = nusc.get('sample_data', nusc.sample[2]['data']['RADAR_FRONT'])
    path = osp.join(tiny['root'], sd['filename'])
    with open(path, 'rb') as f:
        header = f.read(400).split(b'DATA binary\n')[0].decode()
    assert 'FIELDS ' + ' '.join(FIELDS) in header
    everything = RadarPointCloud.from_file(path, **ALL_RADAR_STATES)
    kept = RadarPointCloud.from_file(path)
    assert everything.points.shape[0] == 18 and everything.nbr_points() >= kept.nbr_points()
    assert np.all(kept.points[14] == 0) and np.all(kept.points[11] == 3) and np.all(kept.points[3] < 7)
    np.testing.assert_array_equal(everything.points[2], 0.0)  # no height
