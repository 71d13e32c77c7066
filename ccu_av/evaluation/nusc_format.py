"""Detector outputs (mmdet3d ``LiDARInstance3DBoxes`` in the LIDAR_TOP frame) to nuScenes submission boxes.

A submission box is global-frame: ``translation`` (gravity centre), ``size`` (w, l, h),
``rotation`` (quaternion w, x, y, z), ``velocity`` (vx, vy), ``detection_name``,
``detection_score``, ``attribute_name``. mmdet3d 1.x LiDAR boxes are ``(x, y, z_bottom, l, w, h,
yaw, vx, vy)`` with yaw about +z from +x, the same angle as the nuScenes box's yaw, so a box
reaches the global frame as ``global <- ego <- lidar`` with the sample's ``ego2global`` and
``lidar2ego``, exactly as mmdet3d's NuScenesMetric moves devkit ``Box`` es one by one; here the
whole sample is moved at once with matrices (checked against devkit ``Box`` es in the tests).
"""
from typing import Dict, List, Sequence, Tuple

import numpy as np
from nuscenes.eval.detection.constants import DETECTION_NAMES
from nuscenes.utils.geometry_utils import transform_matrix
from pyquaternion import Quaternion
from scipy.spatial.transform import Rotation

# The label order of ccu_av's data (docs/data_format.md): label = index.
NUSCENES_CLASSES = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier',
                    'motorcycle', 'bicycle', 'pedestrian', 'traffic_cone')
# The attribute a detector without an attribute head is credited with, by class: (when moving,
# when still), moving meaning a speed above MOVING_SPEED. The same rule as mmdet3d 1.4's
# NuScenesMetric for LiDAR boxes; barriers and cones have no attribute.
DEFAULT_ATTRIBUTES = {
    'car': ('vehicle.moving', 'vehicle.parked'),
    'truck': ('vehicle.moving', 'vehicle.parked'),
    'construction_vehicle': ('vehicle.moving', 'vehicle.parked'),
    'bus': ('vehicle.moving', 'vehicle.stopped'),
    'trailer': ('vehicle.moving', 'vehicle.parked'),
    'barrier': ('', ''),
    'motorcycle': ('cycle.with_rider', 'cycle.without_rider'),
    'bicycle': ('cycle.with_rider', 'cycle.without_rider'),
    'pedestrian': ('pedestrian.moving', 'pedestrian.standing'),
    'traffic_cone': ('', ''),
}
MOVING_SPEED = 0.2  # m/s


def check_class_names(class_names: Sequence[str]) -> None:
    """Raise ValueError unless every name is a nuScenes detection class."""
    unknown = [name for name in class_names if name not in DETECTION_NAMES]
    if unknown:
        raise ValueError(f'class names {unknown} are not nuScenes detection classes '
                         f'{DETECTION_NAMES}')


def check_pose(matrix, name: str, sample_token: str) -> np.ndarray:
    """A rigid 4x4 transform as float64, or ValueError naming the sample and the pose."""
    m = np.asarray(matrix, dtype=np.float64)
    if m.shape != (4, 4) or not np.all(np.isfinite(m)):
        raise ValueError(f'sample {sample_token}: {name} must be a finite 4x4 matrix, '
                         f'got shape {m.shape}')
    rotation = m[:3, :3]
    if (not np.allclose(rotation @ rotation.T, np.eye(3), atol=1e-5)
            or np.linalg.det(rotation) <= 0 or not np.allclose(m[3], [0, 0, 0, 1])):
        raise ValueError(f'sample {sample_token}: {name} is not a rigid transform '
                         '(rotation not orthonormal or last row not [0, 0, 0, 1])')
    return m


def lidar_to_global(centres: np.ndarray, yaw: np.ndarray, velocity: np.ndarray,
                    lidar2ego: np.ndarray, ego2global: np.ndarray
                    ) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Move K boxes from the LIDAR_TOP frame to the global frame.

    Args:
        centres: (K, 3) box centres; yaw: (K,) about the lidar's +z; velocity: (K, 2) vx, vy.
        lidar2ego, ego2global: (4, 4) rigid transforms.

    Returns:
        (K, 3) global centres, (K, 4) quaternions (w, x, y, z, with w >= 0), (K, 2) global vx, vy.
    """
    K = len(centres)
    lidar2global = ego2global @ lidar2ego  # (4, 4)
    R = lidar2global[:3, :3]
    centres_g = centres @ R.T + lidar2global[:3, 3]  # (K, 3)
    velocity_3d = np.concatenate([velocity, np.zeros((K, 1))], axis=1)  # (K, 3), vz = 0
    velocity_g = (velocity_3d @ R.T)[:, :2]
    # orientation: R @ Rz(yaw); scipy composes left-to-right as matrices do
    rotation = Rotation.from_matrix(R) * Rotation.from_rotvec(np.outer(yaw, [0.0, 0.0, 1.0]))
    xyzw = rotation.as_quat().reshape(K, 4)
    wxyz = xyzw[:, [3, 0, 1, 2]]
    wxyz *= np.where(wxyz[:, :1] < 0, -1.0, 1.0)  # q and -q are the same rotation
    return centres_g, wxyz, velocity_g


def default_attribute(class_name: str, speed: float) -> str:
    """The attribute credited to a box of this class moving at ``speed`` m/s."""
    moving, still = DEFAULT_ATTRIBUTES[class_name]
    return moving if speed > MOVING_SPEED else still


def lidar_boxes_to_nusc(sample_token: str, bboxes_3d, scores_3d, labels_3d, lidar2ego,
                        ego2global, class_names: Sequence[str] = NUSCENES_CLASSES) -> List[Dict]:
    """One sample's detections as nuScenes submission boxes in the global frame.

    Args:
        sample_token: the sample's token (written into every box).
        bboxes_3d: ``LiDARInstance3DBoxes`` with 9 values a box (x, y, z_bottom, l, w, h, yaw,
            vx, vy) in the sample's LIDAR_TOP frame.
        scores_3d: (K,) scores; labels_3d: (K,) indices into ``class_names``.
        lidar2ego, ego2global: (4, 4) poses of the sample (info file or nuScenes tables).
        class_names: nuScenes detection class of each label.

    Returns:
        K dicts with Python floats; a detector without an attribute head gets the default
        attribute of its class (:func:`default_attribute`).
    """
    check_class_names(class_names)
    tensor = _numpy(bboxes_3d.tensor)
    if tensor.ndim != 2 or tensor.shape[1] < 9:
        raise ValueError(f'sample {sample_token}: boxes need 9 values (x, y, z, l, w, h, yaw, vx, '
                         f'vy), got shape {tuple(tensor.shape)}')
    scores, labels = _numpy(scores_3d).reshape(-1), _numpy(labels_3d).reshape(-1)
    if not len(scores) == len(labels) == len(tensor):
        raise ValueError(f'sample {sample_token}: {len(tensor)} boxes, {len(scores)} scores and '
                         f'{len(labels)} labels')
    _check_values(sample_token, tensor[:, :9], scores, labels, len(class_names))
    lidar2ego = check_pose(lidar2ego, 'lidar2ego', sample_token)
    ego2global = check_pose(ego2global, 'ego2global', sample_token)

    if len(tensor) == 0:
        return []
    centres = _numpy(bboxes_3d.gravity_center).astype(np.float64)  # (K, 3)
    lwh = tensor[:, 3:6].astype(np.float64)
    centres_g, quats, velocity_g = lidar_to_global(
        centres, tensor[:, 6].astype(np.float64), tensor[:, 7:9].astype(np.float64),
        lidar2ego, ego2global)
    speeds = np.linalg.norm(velocity_g, axis=1)
    boxes = []
    for k in range(len(tensor)):
        name = class_names[int(labels[k])]
        boxes.append(dict(
            sample_token=sample_token,
            translation=centres_g[k].tolist(),
            size=lwh[k, [1, 0, 2]].tolist(),  # nuScenes sizes are (w, l, h)
            rotation=quats[k].tolist(),
            velocity=velocity_g[k].tolist(),
            detection_name=name,
            detection_score=float(scores[k]),
            attribute_name=default_attribute(name, float(speeds[k]))))
    return boxes


def lidar_poses_from_nusc(nusc, sample_token: str) -> Tuple[np.ndarray, np.ndarray]:
    """``(lidar2ego, ego2global)`` of a sample's key-frame LIDAR_TOP, from the nuScenes tables
    (the same transforms the info files hold)."""
    sample_data = nusc.get('sample_data', nusc.get('sample', sample_token)['data']['LIDAR_TOP'])
    sensor = nusc.get('calibrated_sensor', sample_data['calibrated_sensor_token'])
    pose = nusc.get('ego_pose', sample_data['ego_pose_token'])
    return (transform_matrix(sensor['translation'], Quaternion(sensor['rotation'])),
            transform_matrix(pose['translation'], Quaternion(pose['rotation'])))


def _check_values(sample_token: str, tensor: np.ndarray, scores: np.ndarray, labels: np.ndarray,
                  num_classes: int) -> None:
    """ValueError naming the sample and the first bad box for NaN/inf values, non-positive
    sizes or labels without a class."""
    checks = [
        (~np.all(np.isfinite(tensor), axis=1), 'non-finite box values'),
        (~np.isfinite(scores), 'non-finite score'),
        (np.any(tensor[:, 3:6] <= 0, axis=1), 'non-positive size'),
        ((labels < 0) | (labels >= num_classes) | (labels != np.round(labels)),
         f'label outside the {num_classes} classes'),
    ]
    for bad, what in checks:
        if np.any(bad):
            k = int(np.flatnonzero(bad)[0])
            raise ValueError(f'sample {sample_token}: {int(bad.sum())} boxes with {what}, first '
                             f'box {k}: {tensor[k].tolist()}, score {scores[k]}, label {labels[k]}')


def _numpy(value) -> np.ndarray:
    """A CPU numpy array from a tensor or array-like."""
    if hasattr(value, 'detach'):
        value = value.detach().cpu().numpy()
    return np.asarray(value)
