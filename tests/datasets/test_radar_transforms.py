"""Radar multi-sweep loading: ego-motion compensation against a hand-computed case, filters, errors."""
import math
import os.path as osp
import shutil

import mmengine
import numpy as np
import pytest
import torch
from nuscenes.utils.data_classes import RadarPointCloud

from ccu_av.datasets.nuscenes_converter import create_nuscenes_infos
from ccu_av.datasets.radar_points import RadarPoints
from ccu_av.datasets.transforms import LoadRadarSweeps, check_radar_pcd, radar_filters


def _pose(x: float, yaw_deg: float):
    from pyquaternion import Quaternion
    return [x, 0.0, 0.0], list(Quaternion(axis=[0, 0, 1], degrees=yaw_deg).elements)


@pytest.fixture
def two_sweep_info(tmp_path, tiny_nuscenes_writer, radar_point_fn):
    """One sample at t = 1.0 s; RADAR_FRONT has a sweep at 0.9 s and the key sweep at 1.0 s.

    LIDAR_TOP sits at (0, 0, 2) on the ego, turned +90 degrees; RADAR_FRONT at (2, 0, 0), unturned.
    The ego is at (8, 0, 0) turned +90 degrees at 0.9 s, and at (10, 0, 0) unturned at 1.0 s.
    """
    writer = tiny_nuscenes_writer(tmp_path / 'root', lidar_calib=((0.0, 0.0, 2.0), 90.0))
    writer.set_calibration('RADAR_FRONT', [2.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0])

    def radar_points(channel, t):
        if channel != 'RADAR_FRONT':
            return [radar_point_fn(math.nan, math.nan)]  # the devkit's empty cloud
        if t < 0.95:
            return [radar_point_fn(5.0, 1.0, 1.0, 0.0, rcs=3.0)]
        return [radar_point_fn(5.0, 1.0, 0.0, 2.0, rcs=7.0), radar_point_fn(9.0, 0.0, invalid_state=1)]

    writer.add_scene('scene-hand', key_times=[1.0],
                     ego_pose=lambda t: _pose(8.0, 90.0) if t < 0.95 else _pose(10.0, 0.0),
                     radar_points=radar_points, lidar_points=lambda t: np.zeros((1, 5)),
                     radar_times=lambda t: [t - 0.1])
    root = writer.write(splits={'synthetic_train': ['scene-hand'], 'synthetic_val': []})
    paths = create_nuscenes_infos(root, writer.version, str(tmp_path / 'infos'))
    info = mmengine.load(paths['train'])['data_list'][0]
    for sweeps in info['radars'].values():
        for sweep in sweeps:
            sweep['data_path'] = osp.join(root, sweep['data_path'])
    return info


def test_two_sweeps_match_hand_computed_compensation(two_sweep_info):
    points = LoadRadarSweeps(num_sweeps=6).transform(two_sweep_info)['points']
    assert isinstance(points, RadarPoints)
    # columns x, y, z, rcs, vx_comp, vy_comp, time_lag; key sweep first, then the older one.
    # key:   sensor (5, 1, 0) -> ego (7, 1, 0) -> lidar Rz(-90) (7, 1, -2) = (1, -7, -2); v (0, 2) -> (2, 0)
    # older: sensor (5, 1, 0) -> ego0 (7, 1, 0) -> global Rz(90) + (8, 0, 0) = (7, 7, 0) -> ego1 (-3, 7, 0)
    #        -> lidar (7, 3, -2); v (1, 0) -> global (0, 1) -> lidar (1, 0)
    expected = torch.tensor([[1.0, -7.0, -2.0, 7.0, 2.0, 0.0, 0.0],
                             [7.0, 3.0, -2.0, 3.0, 1.0, 0.0, 0.1]])
    torch.testing.assert_close(points.tensor, expected, atol=1e-5, rtol=0)


def test_filters_are_applied_and_global_settings_restored(two_sweep_info):
    RadarPointCloud.invalid_states = [0, 1, 2]  # a caller's own global setting
    try:
        default = LoadRadarSweeps(filters='default').transform(dict(two_sweep_info))['points']
        disabled = LoadRadarSweeps(filters='disabled').transform(dict(two_sweep_info))['points']
        assert RadarPointCloud.invalid_states == [0, 1, 2]
    finally:
        RadarPointCloud.default_filters()
    assert len(default) == 2  # the invalid_state = 1 return is dropped
    assert len(disabled) == 3
    torch.testing.assert_close(disabled.tensor[1, :3], torch.tensor([0.0, -11.0, -2.0]), atol=1e-5, rtol=0)


def test_radar_filters_restores_after_an_error():
    saved = RadarPointCloud.ambig_states
    with pytest.raises(RuntimeError), radar_filters('disabled'):
        assert RadarPointCloud.ambig_states == list(range(5))
        raise RuntimeError('reader failed')
    assert RadarPointCloud.ambig_states == saved


def test_num_sweeps_and_features_select_what_is_loaded(two_sweep_info):
    loader = LoadRadarSweeps(num_sweeps=1, features=('x', 'y', 'z', 'vx', 'vy', 'dyn_prop', 'time_lag'))
    points = loader.transform(two_sweep_info)['points']
    # raw vx, vy = compensated + 1 in the sensor frame: (1, 3) -> lidar Rz(-90): (3, -1)
    torch.testing.assert_close(points.tensor, torch.tensor([[1.0, -7.0, -2.0, 3.0, -1.0, 0.0, 0.0]]),
                               atol=1e-5, rtol=0)
    assert points.attribute_dims['raw_velocity'] == [3, 4] and 'velocity' not in points.attribute_dims


@pytest.mark.parametrize('kwargs', [dict(features=('rcs', 'x', 'y', 'z')), dict(features=('x', 'y', 'z', 'speed')),
                                    dict(num_sweeps=0), dict(filters='strict')])
def test_bad_options_are_rejected(kwargs):
    with pytest.raises(ValueError):
        LoadRadarSweeps(**kwargs)


def test_missing_channel_names_the_sample(two_sweep_info):
    with pytest.raises(KeyError, match='RADAR_SIDE'):
        LoadRadarSweeps(channels=('RADAR_SIDE',)).transform(two_sweep_info)


def _front_key_path(info):
    return info['radars']['RADAR_FRONT'][0]['data_path']


@pytest.mark.parametrize('damage, message', [
    (lambda text: text.replace(b'FIELDS x y z', b'FIELDS a b c'), 'corrupt .pcd header'),
    (lambda text: text.replace(b'DATA binary', b'DATA ascii'), 'corrupt .pcd header'),
    (lambda text: text.replace(b'VERSION 0.7\n', b''), 'corrupt .pcd header'),
    (lambda text: text.replace(b'WIDTH 2', b'WIDTH x'), 'corrupt .pcd header'),
    (lambda text: text[:-10], 'truncated'),
])
def test_corrupt_pcd_is_reported_with_its_name(two_sweep_info, tmp_path, damage, message):
    path = str(tmp_path / 'bad.pcd')
    with open(_front_key_path(two_sweep_info), 'rb') as f:
        original = f.read()
    with open(path, 'wb') as f:
        f.write(damage(original))
    two_sweep_info['radars']['RADAR_FRONT'][0]['data_path'] = path
    with pytest.raises(ValueError, match=message) as error:
        LoadRadarSweeps().transform(two_sweep_info)
    assert path in str(error.value)


def test_intact_pcd_passes_the_header_check(two_sweep_info):
    check_radar_pcd(_front_key_path(two_sweep_info))


def test_missing_radar_file_is_reported(two_sweep_info, tmp_path):
    moved = str(tmp_path / 'moved.pcd')
    shutil.move(_front_key_path(two_sweep_info), moved)
    with pytest.raises(FileNotFoundError, match='RADAR_FRONT'):
        LoadRadarSweeps().transform(two_sweep_info)


def test_radar_points_rotate_flip_and_scale_velocities():
    tensor = torch.tensor([[1.0, 0.0, 0.0, 5.0, 2.0, 0.0, 0.1]])
    points = RadarPoints(tensor, points_dim=7, attribute_dims=dict(velocity=[4, 5]))
    points.rotate(math.pi / 2)  # whichever way mmdet3d turns, the velocity must turn with the position
    xy, v = points.tensor[0, :2], points.tensor[0, 4:6]
    torch.testing.assert_close(v / 2.0, xy, atol=1e-6, rtol=0)  # velocity turned with the position
    points.flip('horizontal')
    torch.testing.assert_close(points.tensor[0, 4:6] / 2.0, points.tensor[0, :2], atol=1e-6, rtol=0)
    points.scale(2.0)
    torch.testing.assert_close(points.tensor[0, 4:6], points.tensor[0, :2] * 2.0, atol=1e-6, rtol=0)
    assert points.tensor[0, 3] == 5.0 and points.tensor[0, 6] == pytest.approx(0.1)


def test_radar_points_turn_both_velocity_pairs():
    tensor = torch.tensor([[1.0, 0.0, 0.0, 2.0, 0.0, 3.0, 0.0]])
    points = RadarPoints(tensor, points_dim=7, attribute_dims=dict(velocity=[3, 4], raw_velocity=[5, 6]))
    points.rotate(0.7)
    torch.testing.assert_close(points.tensor[0, 3:5] / 2.0, points.tensor[0, :2], atol=1e-6, rtol=0)
    torch.testing.assert_close(points.tensor[0, 5:7] / 3.0, points.tensor[0, :2], atol=1e-6, rtol=0)
    assert len(points[torch.tensor([True])].velocity_dims) == 2  # indexing keeps the attribute dims
