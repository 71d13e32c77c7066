"""Camera depth targets from LIDAR_TOP, camera round trip, and packing onto the data sample."""
import os.path as osp

import mmengine
import numpy as np
import pytest
import torch
from mmdet3d.datasets.transforms import LoadMultiViewImageFromFiles

from ccu_av.datasets.nuscenes_converter import CAMERA_CHANNELS, create_nuscenes_infos
from ccu_av.datasets.transforms import ComposeCameraMatrices, LoadLidarDepthTargets, PackCamRadarInputs, project_depth


def reference_depth(points, lidar2img, image_hw, depth_range):
    """Slow, obvious version of project_depth: one point at a time, keep the nearest."""
    H, W = image_hw
    out = np.zeros((H, W), dtype=np.float32)
    for x, y, z in points:
        u, v, d, _ = lidar2img @ np.array([x, y, z, 1.0])
        if not depth_range[0] <= d <= depth_range[1]:
            continue
        col, row = int(np.floor(u / d)), int(np.floor(v / d))
        if 0 <= col < W and 0 <= row < H and (out[row, col] == 0 or d < out[row, col]):
            out[row, col] = d
    return out


def test_project_depth_agrees_with_the_reference():
    rng = np.random.default_rng(1)
    points = rng.uniform([-30, -30, -3], [30, 30, 3], size=(3000, 3))
    points = np.concatenate([points, points[:500] * 1.5])  # repeated rays: nearer points must win
    lidar2img = np.eye(4)
    lidar2img[:3, :3] = np.array([[30.0, 0, 32], [0, 30.0, 16], [0, 0, 1]]) @ np.array(
        [[0, -1, 0], [0, 0, -1], [1, 0, 0]])  # a camera looking along lidar x
    fast = project_depth(points, lidar2img, (32, 64), (0.5, 40.0))
    np.testing.assert_allclose(fast, reference_depth(points, lidar2img, (32, 64), (0.5, 40.0)), rtol=1e-6)
    assert (fast > 0).sum() > 50


@pytest.fixture
def depth_case(tmp_path, tiny_nuscenes_writer, radar_point_fn):
    """LIDAR_TOP at the ego origin, unturned; cameras at (1, 0, 1.5) (f = 20, c = (20, 12), 24 x 40)."""
    writer = tiny_nuscenes_writer(tmp_path / 'root', lidar_calib=((0.0, 0.0, 0.0), 0.0))
    # points sit on pixel centres, so floor() is not at the mercy of rounding
    lidar = np.array([[11.0, -0.25, 1.25, 1, 0],  # CAM_FRONT, 10 m ahead -> (row 12, col 20)
                      [21.0, -0.5, 1.0, 1, 0],    # the same ray 20 m ahead: hidden by the first
                      [11.0, -1.25, 1.25, 1, 0],  # 1 m further right -> col 22
                      [-5.0, 0.15, 1.35, 1, 0]])  # CAM_BACK, 6 m behind it -> (row 12, col 20)
    writer.add_scene('scene-depth', key_times=[1.0], ego_pose=lambda t: ([50.0, 20.0, 0.0], [1.0, 0, 0, 0]),
                     radar_points=lambda channel, t: [radar_point_fn(10.0, 0.0)], lidar_points=lambda t: lidar,
                     image=lambda channel, t: np.full((24, 40, 3), 3 + 40 * CAMERA_CHANNELS.index(channel), np.uint8))
    root = writer.write(splits={'synthetic_train': ['scene-depth'], 'synthetic_val': []})
    info = mmengine.load(create_nuscenes_infos(root, writer.version, str(tmp_path / 'infos'))['train'])['data_list'][0]
    for image in info['images'].values():
        image['img_path'] = osp.join(root, image['img_path'])
    info['lidar_points']['lidar_path'] = osp.join(root, info['lidar_points']['lidar_path'])
    return info


def load_cameras(info):
    return ComposeCameraMatrices().transform(LoadMultiViewImageFromFiles(num_views=6).transform(info))


def test_depth_targets_need_the_camera_matrices(depth_case):
    results = LoadMultiViewImageFromFiles(num_views=6).transform(depth_case)
    with pytest.raises(KeyError, match='ComposeCameraMatrices'):
        LoadLidarDepthTargets().transform(results)


def test_camera_images_round_trip(depth_case):
    results = LoadMultiViewImageFromFiles(num_views=6).transform(depth_case)
    assert len(results['img']) == 6
    for n, image in enumerate(results['img']):
        assert image.shape == (24, 40, 3)
        assert (image == 3 + 40 * n).all()  # camera order of the info file is mmdet3d's


def test_depth_targets_match_hand_projection(depth_case):
    results = load_cameras(depth_case)
    results = LoadLidarDepthTargets().transform(results)
    depth = results['gt_depth']
    assert depth.shape == (6, 24, 40) and depth.dtype == np.float32
    assert depth[0, 12, 20] == pytest.approx(10.0, abs=1e-4)  # the nearer of two points on one ray
    assert depth[0, 12, 22] == pytest.approx(10.0, abs=1e-4)
    assert depth[3, 12, 20] == pytest.approx(6.0, abs=1e-4)
    assert (depth > 0).sum() == 3
    assert results['lidar2img'].shape == (6, 4, 4) and results['cam2img'].shape == (6, 4, 4)
    np.testing.assert_allclose(results['lidar2img'], results['cam2img'] @ results['lidar2cam'])


def test_depth_range_drops_far_points(depth_case):
    results = load_cameras(depth_case)
    depth = LoadLidarDepthTargets(depth_range=(0.5, 8.0)).transform(results)['gt_depth']
    assert (depth > 0).sum() == 1 and depth[3, 12, 20] == pytest.approx(6.0, abs=1e-4)


def test_bad_lidar_file_is_named(depth_case):
    path = depth_case['lidar_points']['lidar_path']
    with open(path, 'ab') as f:
        f.write(b'\x00\x01\x02')
    results = load_cameras(depth_case)
    with pytest.raises(ValueError, match='LIDAR_TOP file .*pcd.bin'):
        LoadLidarDepthTargets().transform(results)


def test_bad_depth_range_is_rejected():
    with pytest.raises(ValueError, match='depth_range'):
        LoadLidarDepthTargets(depth_range=(5.0, 1.0))


def test_pack_puts_depth_and_identity_on_the_data_sample(depth_case):
    results = load_cameras(depth_case)
    results = LoadLidarDepthTargets().transform(results)
    packed = PackCamRadarInputs(keys=['img']).transform(results)
    sample = packed['data_samples']
    assert packed['inputs']['img'].shape == (6, 3, 24, 40)
    assert isinstance(sample.gt_depth, torch.Tensor) and sample.gt_depth.shape == (6, 24, 40)
    torch.testing.assert_close(sample.gt_depth, torch.from_numpy(results['gt_depth']))
    assert sample.metainfo['token'] == depth_case['token']
    assert sample.metainfo['scene_name'] == 'scene-depth'
    assert np.asarray(sample.metainfo['lidar2img']).shape == (6, 4, 4)
