"""Info files from a nuScenes dataroot: content, frames, splits, and every bad input."""
import json
import os
import os.path as osp
import pickle
import runpy
import sys

import mmengine
import numpy as np
import pytest

from ccu_av.datasets.nuscenes_converter import (CAMERA_CHANNELS, CLASSES, RADAR_CHANNELS, create_nuscenes_infos,
                                                load_nuscenes)

REPO = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def rz(deg):
    c, s = np.cos(np.radians(deg)), np.sin(np.radians(deg))
    return np.array([[c, -s, 0], [s, c, 0], [0, 0, 1]])


def test_info_files_hold_every_sample_with_plain_types(tiny_nuscenes):
    train, val = mmengine.load(tiny_nuscenes['train']), mmengine.load(tiny_nuscenes['val'])
    assert train['metainfo']['categories'] == {name: i for i, name in enumerate(CLASSES)}
    assert train['metainfo']['version'] == 'v1.0-tiny' and train['metainfo']['split'] == 'train'
    assert [s['scene_name'] for s in train['data_list']] == ['scene-0001'] * 3 + ['scene-0002'] * 3 + ['scene-0003'] * 3
    assert [s['scene_name'] for s in val['data_list']] == ['scene-0004'] * 3
    assert [s['sample_idx'] for s in train['data_list']] == list(range(9))
    sample = train['data_list'][1]
    assert list(sample['images']) == list(CAMERA_CHANNELS)
    assert list(sample['radars']) == list(RADAR_CHANNELS)
    assert sample['location'] == 'boston-seaport' and sample['log_name'] == 'log-a'
    assert sample['timestamp'] == pytest.approx(0.5)
    assert sample['lidar_points']['lidar_path'].startswith('samples/LIDAR_TOP/')

    def plain(value):
        if isinstance(value, dict):
            return all(isinstance(k, str) and plain(v) for k, v in value.items())
        if isinstance(value, list):
            return all(plain(v) for v in value)
        return isinstance(value, (str, int, float, bool))
    assert plain(train)


def test_radar_sweeps_chain_back_through_earlier_samples(tiny_nuscenes):
    data_list = mmengine.load(tiny_nuscenes['train'])['data_list']
    first, second = data_list[0]['radars']['RADAR_FRONT'], data_list[1]['radars']['RADAR_FRONT']
    assert [s['timestamp'] for s in first] == pytest.approx([0.0, -0.075, -0.15])
    # the second sample's sweeps run back into the first sample's (newest first, key sweep first)
    assert [s['timestamp'] for s in second] == pytest.approx([0.5, 0.425, 0.35, 0.0, -0.075, -0.15])
    assert second[0]['data_path'].startswith('samples/') and second[1]['data_path'].startswith('sweeps/')


def test_sensor2lidar_compensates_ego_motion(tiny_nuscenes):
    # ego at (100 + 5t, 50, 0) turned 2t degrees; LIDAR_TOP at (0.9, 0, 1.8) turned -90; radars at (2, 0, 0.5)
    sample = mmengine.load(tiny_nuscenes['train'])['data_list'][1]  # t = 0.5
    sweep = sample['radars']['RADAR_FRONT_LEFT'][3]  # t = 0.0, radar turned +90
    lidar2global_rot, lidar2global_t = rz(1.0) @ rz(-90), np.array([102.5, 50, 0]) + rz(1.0) @ [0.9, 0, 1.8]
    sensor2global_rot, sensor2global_t = rz(0.0) @ rz(90), np.array([100.0, 50, 0]) + [2.0, 0, 0.5]
    expected_rot = lidar2global_rot.T @ sensor2global_rot
    expected_t = lidar2global_rot.T @ (sensor2global_t - lidar2global_t)
    np.testing.assert_allclose(sweep['sensor2lidar_rotation'], expected_rot, atol=1e-9)
    np.testing.assert_allclose(sweep['sensor2lidar_translation'], expected_t, atol=1e-9)


def test_instances_are_in_the_lidar_frame(tiny_nuscenes):
    sample = mmengine.load(tiny_nuscenes['train'])['data_list'][1]  # t = 0.5: ego yaw 1 degree
    car, ped = sample['instances']  # the animal is not a detection class and is left out
    assert (car['bbox_label_3d'], ped['bbox_label_3d']) == (CLASSES.index('car'), CLASSES.index('pedestrian'))
    lidar_rot, lidar_t = rz(1.0) @ rz(-90), np.array([102.5, 50, 0]) + rz(1.0) @ [0.9, 0, 1.8]
    center = lidar_rot.T @ (np.array([112.5, 52.0, 1.0]) - lidar_t)
    np.testing.assert_allclose(car['bbox_3d'][:3], center, atol=1e-6)
    np.testing.assert_allclose(car['bbox_3d'][3:6], [4.5, 1.8, 1.6])  # (l, w, h) from nuScenes (w, l, h)
    assert car['bbox_3d'][6] == pytest.approx(np.radians(10.0 - 1.0 + 90.0))
    # the car moves at 5 m/s along global x; centred difference over the neighbouring samples
    np.testing.assert_allclose(car['velocity'], (lidar_rot.T @ [5.0, 0, 0])[:2], atol=1e-6)
    assert car['attr_label'] == 5 and ped['attr_label'] == 8  # vehicle.moving; none
    assert car['bbox_3d_isvalid'] is True and car['num_lidar_pts'] == 3


def test_camera_extrinsics_are_consistent(tiny_nuscenes):
    image = mmengine.load(tiny_nuscenes['train'])['data_list'][0]['images']['CAM_FRONT']
    lidar2cam = np.asarray(image['lidar2cam'])
    # the camera centre (1, 0, 1.5) on the ego maps to the origin of the camera frame
    lidar_rot, lidar_t = rz(-90), np.array([0.9, 0, 1.8])
    centre_in_lidar = lidar_rot.T @ (np.array([1.0, 0, 1.5]) - lidar_t)
    np.testing.assert_allclose(lidar2cam @ [*centre_in_lidar, 1], [0, 0, 0, 1], atol=1e-9)
    assert np.asarray(image['cam2img']).shape == (3, 3)


def test_split_file_overrides_and_is_checked(tiny_nuscenes, tmp_path):
    split_file = tmp_path / 'splits.json'
    split_file.write_text(json.dumps({'train': ['scene-0004'], 'val': ['scene-0001', 'scene-0002']}))
    paths = create_nuscenes_infos(tiny_nuscenes['root'], 'v1.0-tiny', str(tmp_path / 'out'), split_file=str(split_file))
    assert len(mmengine.load(paths['train'])['data_list']) == 3
    assert len(mmengine.load(paths['val'])['data_list']) == 6
    for bad, message in (({'train': ['scene-9999'], 'val': []}, 'scene-9999'),
                         ({'train': ['scene-0001'], 'val': ['scene-0001']}, "scenes in both 'train' and 'val'"),
                         ({'train': ['scene-0001']}, "'train' and 'val' lists")):
        split_file.write_text(json.dumps(bad))
        with pytest.raises(ValueError, match=message):
            create_nuscenes_infos(tiny_nuscenes['root'], 'v1.0-tiny', str(tmp_path / 'bad'), split_file=str(split_file))
    assert not osp.exists(tmp_path / 'bad')


def test_named_custom_splits_from_the_version_folder(tiny_nuscenes, tmp_path):
    paths = create_nuscenes_infos(tiny_nuscenes['root'], 'v1.0-tiny', str(tmp_path / 'out'),
                                  train_split='tiny_train_boston', val_split='synthetic_val')
    assert {s['scene_name'] for s in mmengine.load(paths['train'])['data_list']} == {'scene-0001', 'scene-0002'}
    with pytest.raises(ValueError, match="split 'tiny_train_paris'"):
        create_nuscenes_infos(tiny_nuscenes['root'], 'v1.0-tiny', str(tmp_path / 'bad'), train_split='tiny_train_paris')


def test_command_line_tool(tiny_nuscenes, tmp_path, monkeypatch):
    out = tmp_path / 'cli'
    monkeypatch.setattr(sys, 'argv', ['create_data.py', '--root-path', tiny_nuscenes['root'], '--version', 'v1.0-tiny',
                                      '--out-dir', str(out), '--max-radar-sweeps', '2'])
    runpy.run_path(osp.join(REPO, 'tools', 'create_data.py'), run_name='__main__')
    data_list = mmengine.load(str(out / 'nuscenes_infos_train.pkl'))['data_list']
    assert all(len(sweeps) == 2 for sweeps in data_list[-1]['radars'].values())
    assert sorted(os.listdir(out)) == ['nuscenes_infos_train.pkl', 'nuscenes_infos_val.pkl']


@pytest.fixture
def damaged_root(tmp_path, write_tiny):
    """A fresh tiny dataroot to damage, and an output folder holding earlier info files."""
    root = str(tmp_path / 'root')
    write_tiny(root)
    out = tmp_path / 'out'
    out.mkdir()
    (out / 'nuscenes_infos_train.pkl').write_bytes(b'earlier infos')
    return root, out


def _assert_nothing_written(out):
    assert sorted(os.listdir(out)) == ['nuscenes_infos_train.pkl']
    assert (out / 'nuscenes_infos_train.pkl').read_bytes() == b'earlier infos'


def test_missing_version_folder(damaged_root):
    root, out = damaged_root
    with pytest.raises(FileNotFoundError, match=r"no version folder 'v1.0-trainval'.*v1.0-tiny"):
        create_nuscenes_infos(root, 'v1.0-trainval', str(out))
    _assert_nothing_written(out)


def test_missing_table(damaged_root):
    root, out = damaged_root
    os.remove(osp.join(root, 'v1.0-tiny', 'ego_pose.json'))
    with pytest.raises(FileNotFoundError, match='ego_pose.json'):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


def test_truncated_table(damaged_root):
    root, out = damaged_root
    path = osp.join(root, 'v1.0-tiny', 'sample_data.json')
    text = open(path).read()
    with open(path, 'w') as f:
        f.write(text[:len(text) // 2])
    with pytest.raises(ValueError, match='sample_data.json is not valid JSON'):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


@pytest.mark.parametrize('folder', ['samples/CAM_BACK_LEFT', 'sweeps/RADAR_BACK_RIGHT'])
def test_missing_sensor_file(damaged_root, folder):
    root, out = damaged_root
    victim = sorted(os.listdir(osp.join(root, folder)))[4]
    os.remove(osp.join(root, folder, victim))
    with pytest.raises(FileNotFoundError, match=f'{folder}/{victim}'):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


def test_a_radar_file_with_a_corrupt_header_is_named_before_anything_is_written(damaged_root):
    root, out = damaged_root
    folder = osp.join(root, 'sweeps', 'RADAR_FRONT')
    victim = sorted(os.listdir(folder))[3]
    data = open(osp.join(folder, victim), 'rb').read()
    with open(osp.join(folder, victim), 'wb') as f:
        f.write(data.replace(b'FIELDS', b'FIELDZ', 1))
    with pytest.raises(ValueError, match=f'(?s)1 radar files .* cannot be read.*RADAR_FRONT/{victim}: corrupt .pcd header'):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


@pytest.mark.parametrize('table, field', [('ego_pose', 'translation'), ('sample_data', 'calibrated_sensor_token')])
def test_a_record_without_a_field_the_converter_reads_is_named(damaged_root, table, field):
    root, out = damaged_root
    path = osp.join(root, 'v1.0-tiny', f'{table}.json')
    records = json.load(open(path))
    del records[2][field]
    json.dump(records, open(path, 'w'))
    with pytest.raises(ValueError, match=f"{table}.json record {records[2]['token']} lacks \\['{field}'\\]"):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


def test_unknown_version_without_split_file(damaged_root):
    root, out = damaged_root
    os.remove(osp.join(root, 'v1.0-tiny', 'splits.json'))
    with pytest.raises(FileNotFoundError, match='splits.json'):
        create_nuscenes_infos(root, 'v1.0-tiny', str(out))
    _assert_nothing_written(out)


def test_devkit_opens_the_tiny_dataroot(tiny_nuscenes):
    nusc = load_nuscenes(tiny_nuscenes['root'], 'v1.0-tiny')
    assert len(nusc.scene) == 4 and len(nusc.sample) == 12


def test_a_failed_dump_replaces_nothing(tmp_path):
    from ccu_av.datasets.nuscenes_converter import _dump_all_or_nothing
    first, second = tmp_path / 'a_infos_train.pkl', tmp_path / 'a_infos_val.pkl'
    first.write_bytes(b'earlier infos')
    with pytest.raises((pickle.PicklingError, AttributeError)):  # a lambda cannot be pickled
        _dump_all_or_nothing({str(first): {'data_list': []}, str(second): {'data_list': [lambda: 0]}})
    assert first.read_bytes() == b'earlier infos'
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a_infos_train.pkl']
