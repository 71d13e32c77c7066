"""One nuScenes sample, read with the devkit and moved into the key frame's LIDAR_TOP frame.

Reads the dataroot directly (no info file, no pipeline), so a picture can be made of any sample of
any dataroot, real or synthetic, before anything else has been built on it.
"""
from __future__ import annotations

import os.path as osp
from dataclasses import dataclass
from functools import reduce
from typing import List, Optional

import numpy as np
from mmengine.logging import MMLogger
from nuscenes import NuScenes
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
from nuscenes.utils.geometry_utils import transform_matrix
from pyquaternion import Quaternion

from .boxes import CLASS_NAMES, BoxSet

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT',
           'CAM_BACK_RIGHT')          # mmdet3d's order
RADARS = ('RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_FRONT_RIGHT', 'RADAR_BACK_LEFT',
          'RADAR_BACK_RIGHT')
REF_CHANNEL = 'LIDAR_TOP'
# Columns of the devkit's 18-row radar array that are read here.
_RCS, _VX_COMP, _VY_COMP = 5, 8, 9


@dataclass
class RadarSweeps:
    """Radar points of all radars over several sweeps, in the key frame's LIDAR_TOP frame.

    Attributes:
        xyz: (P, 3) positions, ego-motion compensated through both ego poses.
        rcs: (P,) radar cross section in dBsm.
        velocity: (P, 2) compensated velocity ``vx, vy`` rotated into LIDAR_TOP.
        sensor: (P,) index into ``channels``.
        time_lag: (P,) seconds between the sweep and the key frame (0 for the key sweep).
        channels: the radar channel names.
    """
    xyz: np.ndarray
    rcs: np.ndarray
    velocity: np.ndarray
    sensor: np.ndarray
    time_lag: np.ndarray
    channels: tuple


@dataclass
class CameraView:
    """One camera of the sample: where its image is and how LIDAR_TOP points project into it."""
    channel: str
    img_path: str
    intrinsic: np.ndarray       # (3, 3)
    lidar2cam: np.ndarray       # (4, 4), through both ego poses (camera and lidar times differ)
    width: int
    height: int


@dataclass
class SampleScene:
    """Everything a picture of one sample needs, in the key frame's LIDAR_TOP frame."""
    sample_token: str
    scene_name: str
    lidar2ego: np.ndarray       # (4, 4)
    global2lidar: np.ndarray    # (4, 4)
    lidar_xyz: Optional[np.ndarray]   # (P, 3), or None when the lidar file is absent
    radar: RadarSweeps
    gt: BoxSet
    cameras: List[CameraView]


def open_nuscenes(dataroot: str, version: str) -> NuScenes:
    """``NuScenes(version, dataroot)`` with an error that names what is missing."""
    tables = osp.join(dataroot, version)
    if not osp.isdir(tables):
        raise FileNotFoundError(f'no nuScenes tables at {tables}: expected a dataroot holding a '
                                f'{version}/ folder of JSON tables (sample.json, scene.json, ...).')
    return NuScenes(version=version, dataroot=dataroot, verbose=False)


def resolve_sample_token(nusc: NuScenes, sample_token: Optional[str] = None,
                         scene: Optional[str] = None, index: int = 0) -> str:
    """The sample token to draw: ``sample_token`` itself, or the ``index``-th sample of ``scene``.

    ``scene`` is a scene name or token. Unknown tokens and names raise ``ValueError``.
    """
    if (sample_token is None) == (scene is None):
        raise ValueError('give exactly one of a sample token and a scene name.')
    if sample_token is not None:
        try:
            nusc.get('sample', sample_token)
        except KeyError:
            raise ValueError(f'sample token {sample_token!r} is not in {nusc.dataroot} '
                             f'({nusc.version}).') from None
        return sample_token
    matches = [rec for rec in nusc.scene if scene in (rec['name'], rec['token'])]
    if not matches:
        names = sorted(rec['name'] for rec in nusc.scene)
        raise ValueError(f'scene {scene!r} is not in {nusc.dataroot} ({nusc.version}); '
                         f'its scenes are {names[:20]}{" ..." if len(names) > 20 else ""}.')
    tokens = [matches[0]['first_sample_token']]
    while nusc.get('sample', tokens[-1])['next']:
        tokens.append(nusc.get('sample', tokens[-1])['next'])
    if not -len(tokens) <= index < len(tokens):
        raise ValueError(f'scene {scene!r} has {len(tokens)} samples; index {index} is out of range.')
    return tokens[index]


def load_sample_scene(nusc: NuScenes, sample_token: str, num_sweeps: int = 5) -> SampleScene:
    """Read one sample: lidar, ``num_sweeps`` sweeps of every radar, ground truth, cameras."""
    sample = nusc.get('sample', sample_token)
    if REF_CHANNEL not in sample['data']:
        raise ValueError(f'sample {sample_token} has no {REF_CHANNEL} sample_data: it is the '
                         f'reference frame of every picture (docs/data_format.md).')
    ref_sd = nusc.get('sample_data', sample['data'][REF_CHANNEL])
    lidar2ego = _calib(nusc, ref_sd)
    ego2global = _pose(nusc, ref_sd)
    global2lidar = np.linalg.inv(ego2global @ lidar2ego)
    return SampleScene(
        sample_token=sample_token,
        scene_name=nusc.get('scene', sample['scene_token'])['name'],
        lidar2ego=lidar2ego,
        global2lidar=global2lidar,
        lidar_xyz=_load_lidar(nusc, ref_sd),
        radar=_load_radar(nusc, sample, global2lidar, num_sweeps),
        gt=_load_gt(nusc, sample, global2lidar),
        cameras=_load_cameras(nusc, sample, global2lidar))


def _calib(nusc: NuScenes, sd: dict) -> np.ndarray:
    cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
    return transform_matrix(cs['translation'], Quaternion(cs['rotation']))


def _pose(nusc: NuScenes, sd: dict) -> np.ndarray:
    pose = nusc.get('ego_pose', sd['ego_pose_token'])
    return transform_matrix(pose['translation'], Quaternion(pose['rotation']))


def _sensor2lidar(nusc: NuScenes, sd: dict, global2lidar: np.ndarray) -> np.ndarray:
    """(4, 4) from a sensor at its own time into the key frame's LIDAR_TOP, through the poses."""
    return reduce(np.matmul, [global2lidar, _pose(nusc, sd), _calib(nusc, sd)])


def _load_lidar(nusc: NuScenes, ref_sd: dict) -> Optional[np.ndarray]:
    path = osp.join(nusc.dataroot, ref_sd['filename'])
    if not osp.isfile(path):
        MMLogger.get_current_instance().warning(f'lidar file {path} is absent: drawn without lidar.')
        return None
    return LidarPointCloud.from_file(path).points[:3].T.astype(np.float64)


def _load_radar(nusc: NuScenes, sample: dict, global2lidar: np.ndarray,
                num_sweeps: int) -> RadarSweeps:
    """Radar sweeps, newest first, through the previous sample_data of each channel.

    ``RadarPointCloud.from_file_multisweep`` moves positions but leaves ``vx_comp, vy_comp`` in
    each sweep's sensor frame, and those need the same rotation; so the sweep loop is written here
    with the devkit's reader and transforms.
    """
    if num_sweeps < 1:
        raise ValueError(f'num_sweeps must be at least 1, got {num_sweeps}.')
    channels = tuple(c for c in RADARS if c in sample['data'])
    ref_time = nusc.get('sample_data', sample['data'][REF_CHANNEL])['timestamp']
    parts = []
    for sensor, channel in enumerate(channels):
        sd = nusc.get('sample_data', sample['data'][channel])
        _require_file(nusc, sd)
        for _ in range(num_sweeps):
            parts.append(_radar_sweep(nusc, sd, global2lidar, sensor, (ref_time - sd['timestamp']) * 1e-6))
            if not sd['prev']:
                break
            sd = nusc.get('sample_data', sd['prev'])
            if not osp.isfile(osp.join(nusc.dataroot, sd['filename'])):
                MMLogger.get_current_instance().warning(
                    f'{channel}: sweep file {sd["filename"]} is absent (sweeps not downloaded?): '
                    f'drawn with fewer sweeps.')
                break
    parts = [p for p in parts if p is not None]
    if not parts:
        empty = np.zeros((0,))
        return RadarSweeps(np.zeros((0, 3)), empty, np.zeros((0, 2)), empty.astype(np.int64),
                           empty, channels)
    return RadarSweeps(*[np.concatenate(col) for col in zip(*parts)], channels)


def _require_file(nusc: NuScenes, sd: dict) -> None:
    path = osp.join(nusc.dataroot, sd['filename'])
    if not osp.isfile(path):
        raise FileNotFoundError(f'{sd["channel"]} file {path} of sample_data {sd["token"]} does not exist.')


def _radar_sweep(nusc: NuScenes, sd: dict, global2lidar: np.ndarray, sensor: int,
                 time_lag: float) -> Optional[tuple]:
    points = RadarPointCloud.from_file(osp.join(nusc.dataroot, sd['filename'])).points   # (18, P)
    if points.shape[1] == 0:
        return None
    to_lidar = _sensor2lidar(nusc, sd, global2lidar)
    xyz = (to_lidar[:3, :3] @ points[:3] + to_lidar[:3, 3:]).T
    vel = np.stack([points[_VX_COMP], points[_VY_COMP], np.zeros(points.shape[1])])
    vel = (to_lidar[:3, :3] @ vel)[:2].T
    count = points.shape[1]
    return (xyz, points[_RCS].astype(np.float64), vel, np.full(count, sensor, dtype=np.int64),
            np.full(count, time_lag))


def _load_gt(nusc: NuScenes, sample: dict, global2lidar: np.ndarray) -> BoxSet:
    """Annotations of the 10 detection classes, as mmdet3d's nuScenes converter writes them."""
    rows, labels, velocity = [], [], []
    for ann_token in sample['anns']:
        ann = nusc.get('sample_annotation', ann_token)
        name = category_to_detection_name(ann['category_name'])
        if name is None:
            continue
        box = nusc.get_box(ann_token)
        box.rotate(Quaternion(matrix=global2lidar[:3, :3], atol=1e-6))
        box.translate(global2lidar[:3, 3])
        width, length, height = box.wlh
        rows.append([*box.center[:2], box.center[2] - height / 2, length, width, height,
                     box.orientation.yaw_pitch_roll[0]])
        labels.append(CLASS_NAMES.index(name))
        vel = np.nan_to_num(nusc.box_velocity(ann_token))
        velocity.append((global2lidar[:3, :3] @ vel)[:2])
    return BoxSet(np.array(rows).reshape(-1, 7), labels, None, np.array(velocity).reshape(-1, 2))


def _load_cameras(nusc: NuScenes, sample: dict, global2lidar: np.ndarray) -> List[CameraView]:
    lidar2global = np.linalg.inv(global2lidar)
    channels = [c for c in CAMERAS if c in sample['data']]
    channels += sorted(c for c in sample['data'] if c.startswith('CAM') and c not in CAMERAS)
    views = []
    for channel in channels:
        sd = nusc.get('sample_data', sample['data'][channel])
        cs = nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
        cam2global = _pose(nusc, sd) @ _calib(nusc, sd)
        views.append(CameraView(channel, osp.join(nusc.dataroot, sd['filename']),
                                np.array(cs['camera_intrinsic'], dtype=np.float64),
                                np.linalg.inv(cam2global) @ lidar2global,
                                int(sd['width']), int(sd['height'])))
    return views
