import numpy as np
import pytest
import torch
from mmdet3d.structures import LiDARInstance3DBoxes
from nuscenes.utils.data_classes import Box
from pyquaternion import Quaternion

from ccu_av.evaluation.nusc_format import (NUSCENES_CLASSES, check_pose, default_attribute,
                                           lidar_boxes_to_nusc, lidar_poses_from_nusc)


def _pose(axis, degrees, translation):
    m = np.eye(4)
    m[:3, :3] = Quaternion(axis=axis, degrees=degrees).rotation_matrix
    m[:3, 3] = translation
    return m


def test_hand_computed_box():
    # lidar turned +90 deg in the ego frame, 1 m ahead and 2 m up; ego turned 180 deg at (100, 200)
    lidar2ego = _pose([0, 0, 1], 90, [1, 0, 2])
    ego2global = _pose([0, 0, 1], 180, [100, 200, 0])
    boxes = LiDARInstance3DBoxes(torch.tensor([[10.0, 0.0, -1.0, 4.0, 2.0, 1.5, 0.0, 1.0, 0.0],
                                               [0.0, 5.0, -1.0, 0.7, 0.6, 1.8, 0.5, 0.1, 0.0]]),
                                 box_dim=9)
    out = lidar_boxes_to_nusc('tok', boxes, torch.tensor([0.5, 0.25]), torch.tensor([0, 8]),
                              lidar2ego, ego2global)
    car, pedestrian = out
    # gravity centre (10, 0, -0.25) -> ego (0, 10, 1.75) + (1, 0, 0) -> global (-1, -10) + (100, 200)
    np.testing.assert_allclose(car['translation'], [99.0, 190.0, 1.75], atol=1e-9)
    assert car['size'] == [2.0, 4.0, 1.5]  # (w, l, h)
    # yaw 0 + 90 + 180 = 270 deg: quaternion (cos 135, 0, 0, sin 135) up to sign
    np.testing.assert_allclose(car['rotation'], [np.sqrt(0.5), 0, 0, -np.sqrt(0.5)], atol=1e-9)
    np.testing.assert_allclose(car['velocity'], [0.0, -1.0], atol=1e-9)  # +x -> +y -> -y
    assert (car['detection_name'], car['detection_score'], car['attribute_name']) == \
        ('car', 0.5, 'vehicle.moving')
    assert car['sample_token'] == 'tok' and isinstance(car['detection_score'], float)
    # gravity centre (0, 5, -0.1) -> ego (-5, 0, -0.1) + (1, 0, 2) -> global (4, 0, 1.9) + (100, 200, 0)
    np.testing.assert_allclose(pedestrian['translation'], [104.0, 200.0, 1.9], atol=1e-9)
    assert pedestrian['detection_name'] == 'pedestrian'
    assert pedestrian['attribute_name'] == 'pedestrian.standing'  # 0.1 m/s is not moving


def test_matches_devkit_boxes_and_round_trips():
    rng = np.random.default_rng(0)
    lidar2ego = _pose(rng.normal(size=3), 97.0, [0.9, 0.1, 1.8])  # a full 3D rotation
    ego2global = _pose([0.05, -0.02, 1.0], -33.0, [411.3, 1180.8, 0.0])
    K = 20
    tensor = np.concatenate([rng.uniform(-40, 40, (K, 3)), rng.uniform(0.3, 8, (K, 3)),
                             rng.uniform(-np.pi, np.pi, (K, 1)), rng.normal(0, 3, (K, 2))], axis=1)
    boxes = LiDARInstance3DBoxes(torch.tensor(tensor), box_dim=9)
    tensor = boxes.tensor.numpy().astype(np.float64)  # the float32 values the boxes hold
    labels = rng.integers(0, 10, K)
    out = lidar_boxes_to_nusc('tok', boxes, torch.tensor(rng.uniform(0, 1, K)),
                              torch.tensor(labels), lidar2ego, ego2global)
    for k, box in enumerate(out):
        # reference: a devkit Box moved box by box (lidar -> ego -> global)
        x, y, z, l, w, h, yaw, vx, vy = tensor[k]
        ref = Box([x, y, z + h / 2], [w, l, h], Quaternion(axis=[0, 0, 1], radians=yaw),
                  velocity=(vx, vy, 0.0))
        for pose in (lidar2ego, ego2global):
            ref.rotate(Quaternion(matrix=pose[:3, :3]))
            ref.translate(pose[:3, 3])
        # mmdet3d computes the gravity centre in float32 (a few micrometres at 40 m)
        np.testing.assert_allclose(box['translation'], ref.center, rtol=0, atol=1e-5)
        np.testing.assert_allclose(box['size'], ref.wlh, atol=1e-9)
        np.testing.assert_allclose(Quaternion(box['rotation']).rotation_matrix,
                                   ref.orientation.rotation_matrix, atol=1e-9)
        np.testing.assert_allclose(box['velocity'], ref.velocity[:2], atol=1e-9)
        assert box['detection_name'] == NUSCENES_CLASSES[labels[k]]
        # and back: global -> ego -> lidar gives the mmdet3d box again
        back = Box(box['translation'], box['size'], Quaternion(box['rotation']),
                   velocity=(*box['velocity'], ref.velocity[2]))
        for pose in (ego2global, lidar2ego):
            back.translate(-pose[:3, 3])
            back.rotate(Quaternion(matrix=pose[:3, :3]).inverse)
        np.testing.assert_allclose(back.center, [x, y, z + h / 2], rtol=0, atol=1e-5)
        assert abs(np.angle(np.exp(1j * (back.orientation.yaw_pitch_roll[0] - yaw)))) < 1e-9
        np.testing.assert_allclose(back.velocity[:2], [vx, vy], atol=1e-9)


def test_default_attributes_follow_speed():
    assert default_attribute('bus', 0.0) == 'vehicle.stopped'
    assert default_attribute('bus', 3.0) == 'vehicle.moving'
    assert default_attribute('car', 0.1) == 'vehicle.parked'
    assert default_attribute('bicycle', 1.0) == 'cycle.with_rider'
    assert default_attribute('motorcycle', 0.0) == 'cycle.without_rider'
    assert default_attribute('barrier', 5.0) == default_attribute('traffic_cone', 0.0) == ''


def test_poses_from_tables(tiny_nusc):
    sample = tiny_nusc.sample[3]
    lidar2ego, ego2global = lidar_poses_from_nusc(tiny_nusc, sample['token'])
    sample_data = tiny_nusc.get('sample_data', sample['data']['LIDAR_TOP'])
    pose = tiny_nusc.get('ego_pose', sample_data['ego_pose_token'])
    np.testing.assert_allclose(ego2global[:3, 3], pose['translation'])
    np.testing.assert_allclose(check_pose(lidar2ego, 'lidar2ego', 't')[:3, 3], [0.94, 0.0, 1.84])


def _one(**kw):
    args = dict(bboxes=[[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.0, 0.0, 0.0]], scores=[0.5], labels=[0],
                lidar2ego=np.eye(4), ego2global=np.eye(4), class_names=NUSCENES_CLASSES)
    args.update(kw)
    return lidar_boxes_to_nusc('tok-7', LiDARInstance3DBoxes(torch.tensor(args['bboxes']),
                                                             box_dim=len(args['bboxes'][0])),
                               torch.tensor(args['scores']), torch.tensor(args['labels']),
                               args['lidar2ego'], args['ego2global'], args['class_names'])


@pytest.mark.parametrize('kw, message', [
    (dict(scores=[float('nan')]), 'non-finite score'),
    (dict(bboxes=[[1.0, 2.0, 0.0, 4.0, float('nan'), 1.5, 0.0, 0.0, 0.0]]), 'non-finite box'),
    (dict(bboxes=[[1.0, 2.0, 0.0, 4.0, 0.0, 1.5, 0.0, 0.0, 0.0]]), 'non-positive size'),
    (dict(bboxes=[[1.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.0]]), 'boxes need 9 values'),
    (dict(labels=[10]), 'label outside the 10 classes'),
    (dict(scores=[0.5, 0.4]), '1 boxes, 2 scores'),
    (dict(ego2global=np.diag([1.0, 1.0, -1.0, 1.0])), 'ego2global is not a rigid'),
    (dict(lidar2ego=np.eye(3)), 'lidar2ego must be a finite 4x4'),
    (dict(class_names=('car', 'van')), r"\['van'\] are not nuScenes detection classes"),
])
def test_bad_input_raises_naming_sample(kw, message):
    with pytest.raises(ValueError, match=message) as info:
        _one(**kw)
    if 'class names' not in message and 'van' not in message:
        assert 'tok-7' in str(info.value)


def test_no_boxes_give_empty_list():
    boxes = LiDARInstance3DBoxes(torch.zeros((0, 9)), box_dim=9)
    assert lidar_boxes_to_nusc('t', boxes, torch.zeros(0), torch.zeros(0, dtype=torch.long),
                               np.eye(4), np.eye(4)) == []
