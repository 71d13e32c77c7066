"""BEV augmentation (mmdet3d's GlobalRotScaleTrans + RandomFlip3D) with cameras that follow it."""
import numpy as np
import pytest
import torch
from mmdet3d.datasets.transforms import GlobalRotScaleTrans, RandomFlip3D
from mmdet3d.structures import LiDARInstance3DBoxes

from ccu_av.datasets.radar_points import RadarPoints
from ccu_av.datasets.transforms import AugmentCameraMatrices, bev_augmentation_matrix


def camera_matrices():
    """Two cameras: one looking along +x, one along +y, 1.5 m up; focal 100 px, centre (80, 45)."""
    cam2img = np.array([[100.0, 0, 80, 0], [0, 100.0, 45, 0], [0, 0, 1, 0], [0, 0, 0, 1]])
    mats = []
    for yaw in (0.0, np.pi / 2):
        forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        down = np.array([0.0, 0.0, -1.0])
        cam2lidar = np.eye(4)
        cam2lidar[:3, :3] = np.stack([right, down, forward], axis=1)
        cam2lidar[:3, 3] = [0.0, 0.0, 1.5]
        mats.append(np.linalg.inv(cam2lidar))
    lidar2cam = np.stack(mats)
    return np.stack([cam2img] * 2), lidar2cam


def project(lidar2img, xyz):
    hom = np.concatenate([xyz, np.ones((len(xyz), 1))], axis=1)
    uvd = np.einsum('nij,pj->npi', lidar2img, hom)[..., :3]
    return np.concatenate([uvd[..., :2] / uvd[..., 2:3], uvd[..., 2:3]], axis=-1)  # (N, P, 3): u, v, depth


def sample(seed):
    rng = np.random.default_rng(seed)
    boxes = np.concatenate([rng.uniform([5, 5, -1], [15, 15, 0], (4, 3)), rng.uniform(1, 4, (4, 3)),
                            rng.uniform(-np.pi, np.pi, (4, 1)), rng.uniform(-3, 3, (4, 2))], axis=1)
    radar = np.concatenate([boxes[:, :3], rng.uniform(0, 10, (4, 1)), boxes[:, 7:9]], axis=1)
    cam2img, lidar2cam = camera_matrices()
    return dict(gt_bboxes_3d=LiDARInstance3DBoxes(torch.tensor(boxes, dtype=torch.float32), box_dim=9),
                points=RadarPoints(torch.tensor(radar, dtype=torch.float32), points_dim=6,
                                   attribute_dims=dict(rcs=3, velocity=[4, 5])),
                cam2img=cam2img, lidar2cam=lidar2cam, lidar2img=cam2img @ lidar2cam)


@pytest.mark.parametrize('flips', [(0.0, 0.0), (1.0, 0.0), (0.0, 1.0), (1.0, 1.0)])
def test_cameras_follow_the_augmented_scene(flips):
    np.random.seed(3)
    results = sample(0)
    centres_before = results['gt_bboxes_3d'].gravity_center.numpy().copy()
    before = project(results['lidar2img'], centres_before)
    velocity_before = results['gt_bboxes_3d'].tensor[:, 7:9].numpy().copy()
    radar_before = results['points'].tensor.numpy().copy()

    results = GlobalRotScaleTrans(rot_range=[-1.0, 1.0], scale_ratio_range=[0.9, 1.1],
                                  translation_std=[0.3, 0.3, 0.1])(results)
    results = RandomFlip3D(sync_2d=False, flip_ratio_bev_horizontal=flips[0],
                           flip_ratio_bev_vertical=flips[1])(results)
    results = AugmentCameraMatrices()(results)

    aug = results['bev_aug_matrix']
    assert abs(np.linalg.det(aug[:3, :3])) != pytest.approx(1.0, abs=1e-3)  # scaled as well
    assert np.sign(np.linalg.det(aug[:3, :3])) == (-1) ** int(sum(flips))
    centres = results['gt_bboxes_3d'].gravity_center.numpy()
    # the scene moved, the image of every object did not (pixel and depth)
    assert np.abs(centres - centres_before).max() > 0.5
    np.testing.assert_allclose(project(results['lidar2img'], centres), before, rtol=1e-4, atol=1e-3)
    # the matrix is the one that moved the boxes, and the radar returns with them
    hom = np.concatenate([radar_before[:, :3], np.ones((4, 1))], axis=1)
    np.testing.assert_allclose((hom @ aug.T)[:, :3], results['points'].tensor.numpy()[:, :3], atol=1e-4)
    # velocities turn (and scale) with the scene: boxes and radar alike
    expected_velocity = velocity_before @ aug[:2, :2].T
    np.testing.assert_allclose(results['gt_bboxes_3d'].tensor[:, 7:9].numpy(), expected_velocity, atol=1e-4)
    np.testing.assert_allclose(results['points'].tensor[:, 4:6].numpy(), expected_velocity, atol=1e-4)
    # lidar2img stays cam2img @ lidar2cam
    np.testing.assert_allclose(results['lidar2img'], results['cam2img'] @ results['lidar2cam'], atol=1e-9)


def test_no_augmentation_is_identity():
    results = sample(1)
    lidar2img = results['lidar2img'].copy()
    results = AugmentCameraMatrices()(results)
    np.testing.assert_array_equal(results['bev_aug_matrix'], np.eye(4))
    np.testing.assert_allclose(results['lidar2img'], lidar2img)


def test_unknown_flow_step_is_named():
    with pytest.raises(ValueError, match="unknown step 'X'"):
        bev_augmentation_matrix(dict(transformation_3d_flow=['R', 'X'], pcd_rotation=np.eye(3)))
