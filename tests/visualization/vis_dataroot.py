"""A tiny nuScenes dataroot whose geometry the picture tests know exactly.

One scene of two samples (so radars have a previous sweep); at the key sample (the second) the ego
stands at global (100, 50) heading 30 degrees. A car stands 15 m ahead of the ego facing forward,
a pedestrian 10 m behind and 5 m to its left. LIDAR_TOP is turned -90 degrees about z, as on
the real nuScenes car, so ego forward is +y in the lidar frame. Cameras are 320x240.
"""
import json
from pathlib import Path

import cv2
import numpy as np
from pyquaternion import Quaternion

VERSION = 'v1.0-tiny'
KEY_SAMPLE = 'sample_1'
SCENE = 'scene-0001'
T0 = 1_600_000_000_000_000          # micro-seconds
EGO_YAW = np.radians(30.0)
EGO_XY = np.array([100.0, 50.0])
STEP = 5.0                          # m the ego moves between the two samples
CAR_AHEAD = 15.0                    # m in front of the ego at the key sample
IMAGE_W, IMAGE_H, FOCAL = 320, 240, 200.0
CAM_YAWS = {'CAM_FRONT': 0, 'CAM_FRONT_RIGHT': -55, 'CAM_FRONT_LEFT': 55, 'CAM_BACK': 180,
            'CAM_BACK_LEFT': 110, 'CAM_BACK_RIGHT': -110}
RADAR_YAWS = {'RADAR_FRONT': 0, 'RADAR_FRONT_LEFT': 90, 'RADAR_FRONT_RIGHT': -90,
              'RADAR_BACK_LEFT': 180, 'RADAR_BACK_RIGHT': 180}
RADAR_FIELDS = [('x', '<f4'), ('y', '<f4'), ('z', '<f4'), ('dyn_prop', 'i1'), ('id', '<i2'),
                ('rcs', '<f4'), ('vx', '<f4'), ('vy', '<f4'), ('vx_comp', '<f4'), ('vy_comp', '<f4'),
                ('is_quality_valid', 'i1'), ('ambig_state', 'i1'), ('x_rms', 'i1'), ('y_rms', 'i1'),
                ('invalid_state', 'i1'), ('pdh0', 'i1'), ('vx_rms', 'i1'), ('vy_rms', 'i1')]
CAR = dict(size=[2.0, 4.5, 1.6], category='vehicle.car')          # size as w, l, h
PEDESTRIAN = dict(size=[0.7, 0.7, 1.8], category='human.pedestrian.adult')


def yaw_quat(deg: float) -> Quaternion:
    return Quaternion(axis=(0, 0, 1), degrees=deg)


def ego_pose(sample: int) -> tuple:
    """Global (translation, rotation) of the ego at sample 0 or 1."""
    forward = np.array([np.cos(EGO_YAW), np.sin(EGO_YAW)])
    xy = EGO_XY - forward * STEP * (1 - sample)
    return [*xy, 0.0], Quaternion(axis=(0, 0, 1), radians=EGO_YAW)


def ego_to_global(xyz_ego, sample: int = 1) -> np.ndarray:
    translation, rotation = ego_pose(sample)
    return rotation.rotation_matrix @ np.asarray(xyz_ego, dtype=float) + translation


def write_radar_pcd(path: Path, points: list) -> None:
    """nuScenes radar .pcd: ASCII header, then binary points and one trailing byte (STACK.md)."""
    data = np.zeros(len(points), dtype=RADAR_FIELDS)
    for i, (x, y, rcs, vx) in enumerate(points):
        data[i] = (x, y, 0.5, 0, i, rcs, vx, 0, vx, 0, 1, 3, 0, 0, 0, 1, 0, 0)
    header = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
              f'FIELDS {" ".join(n for n, _ in RADAR_FIELDS)}\n'
              'SIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n'
              'TYPE F F F I I F F F F F I I I I I I I I\n'
              'COUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n'
              f'WIDTH {len(points)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA binary\n')
    path.write_bytes(header.encode() + data.tobytes() + b'\x00')


def _calibrations() -> dict:
    """channel -> (translation, rotation) sensor -> ego."""
    cam_base = Quaternion(matrix=np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float))
    calib = {'LIDAR_TOP': ([0.9, 0.0, 1.8], yaw_quat(-90))}
    for channel, yaw in CAM_YAWS.items():
        calib[channel] = ([1.5 * np.cos(np.radians(yaw)), 1.5 * np.sin(np.radians(yaw)), 1.5],
                          yaw_quat(yaw) * cam_base)
    for channel, yaw in RADAR_YAWS.items():
        calib[channel] = ([2.0 * np.cos(np.radians(yaw)), np.sin(np.radians(yaw)), 0.5], yaw_quat(yaw))
    return calib


def write_tiny_nuscenes(root: Path, with_lidar: bool = True) -> dict:
    """Write the dataroot; returns the tokens and ground truth the tests refer to."""
    tables = {name: [] for name in ('category', 'attribute', 'visibility', 'instance', 'sensor',
                                    'calibrated_sensor', 'ego_pose', 'log', 'scene', 'sample',
                                    'sample_data', 'sample_annotation', 'map')}
    (root / 'maps').mkdir(parents=True)
    cv2.imwrite(str(root / 'maps' / 'map.png'), np.zeros((8, 8), dtype=np.uint8))
    tables['log'].append(dict(token='log_0', logfile='tiny', vehicle='v', date_captured='2020-01-01',
                              location='boston-seaport'))
    tables['map'].append(dict(token='map_0', log_tokens=['log_0'], category='semantic_prior',
                              filename='maps/map.png'))
    tables['visibility'].append(dict(token='4', level='v80-100', description=''))
    calib = _calibrations()
    for channel, (translation, rotation) in calib.items():
        modality = channel.split('_')[0].lower().replace('cam', 'camera')
        tables['sensor'].append(dict(token=f'sensor_{channel}', channel=channel, modality=modality))
        intrinsic = ([[FOCAL, 0, IMAGE_W / 2], [0, FOCAL, IMAGE_H / 2], [0, 0, 1]]
                     if modality == 'camera' else [])
        tables['calibrated_sensor'].append(dict(
            token=f'cs_{channel}', sensor_token=f'sensor_{channel}', translation=list(translation),
            rotation=list(rotation.elements), camera_intrinsic=intrinsic))
    for sample in range(2):
        tables['sample'].append(dict(token=f'sample_{sample}', timestamp=T0 + sample * 500_000,
                                     scene_token='scene_0', prev='' if sample == 0 else 'sample_0',
                                     next='sample_1' if sample == 0 else ''))
        for channel in calib:
            _write_sample_data(root, tables, channel, sample, with_lidar)
    _write_annotations(tables)
    tables['scene'].append(dict(token='scene_0', name=SCENE, description='tiny', log_token='log_0',
                                nbr_samples=2, first_sample_token='sample_0',
                                last_sample_token='sample_1'))
    (root / VERSION).mkdir()
    for name, rows in tables.items():
        (root / VERSION / f'{name}.json').write_text(json.dumps(rows))
    return dict(dataroot=str(root), version=VERSION, sample_token=KEY_SAMPLE, scene=SCENE)


def _write_sample_data(root: Path, tables: dict, channel: str, sample: int, with_lidar: bool) -> None:
    token = f'sd_{channel}_{sample}'
    timestamp = T0 + sample * 500_000
    translation, rotation = ego_pose(sample)
    tables['ego_pose'].append(dict(token=token, timestamp=timestamp, translation=translation,
                                   rotation=list(rotation.elements)))
    folder = 'sweeps' if sample == 0 else 'samples'
    if channel.startswith('CAM'):
        filename = f'{folder}/{channel}/{token}.jpg'
        (root / folder / channel).mkdir(parents=True, exist_ok=True)
        cv2.imwrite(str(root / filename), np.full((IMAGE_H, IMAGE_W, 3), 100, dtype=np.uint8))
    elif channel.startswith('RADAR'):
        filename = f'{folder}/{channel}/{token}.pcd'
        (root / folder / channel).mkdir(parents=True, exist_ok=True)
        write_radar_pcd(root / filename, _radar_points(channel, sample))
    else:
        filename = f'{folder}/{channel}/{token}.pcd.bin'
        if with_lidar:
            (root / folder / channel).mkdir(parents=True, exist_ok=True)
            _lidar_points().tofile(root / filename)
    tables['sample_data'].append(dict(
        token=token, sample_token=f'sample_{sample}', ego_pose_token=token,
        calibrated_sensor_token=f'cs_{channel}', timestamp=timestamp,
        fileformat=filename.split('.')[-1], is_key_frame=True,
        height=IMAGE_H if channel.startswith('CAM') else 0,
        width=IMAGE_W if channel.startswith('CAM') else 0, filename=filename,
        prev='' if sample == 0 else f'sd_{channel}_0', next=f'sd_{channel}_1' if sample == 0 else ''))


def _radar_points(channel: str, sample: int) -> list:
    """(x, y, rcs, vx) in the radar frame: the front radar sees the car, the others clutter."""
    if channel == 'RADAR_FRONT':
        ahead = CAR_AHEAD - 2.0 + (STEP if sample == 0 else 0.0)
        return [(ahead - 2.0, 0.3, 10.0, 5.0), (ahead - 2.0, -0.4, 12.0, 5.0)]
    return [(8.0, 1.0, -5.0, 0.0)]


def _lidar_points() -> np.ndarray:
    """(P, 5) float32 in the lidar frame (ego forward = +y): a ground ring and the car's rear."""
    angle = np.linspace(0, 2 * np.pi, 360, endpoint=False)
    ring = np.stack([20 * np.cos(angle), 20 * np.sin(angle), np.full(360, -1.8)], axis=1)
    car = np.stack([np.linspace(-0.9, 0.9, 20), np.full(20, CAR_AHEAD - 0.9 - 2.25),
                    np.full(20, -1.0)], axis=1)
    xyz = np.concatenate([ring, car])
    return np.concatenate([xyz, np.zeros((len(xyz), 2))], axis=1).astype(np.float32)


def _write_annotations(tables: dict) -> None:
    tables['category'] += [dict(token='cat_car', name=CAR['category'], description=''),
                           dict(token='cat_ped', name=PEDESTRIAN['category'], description='')]
    for name, spec, ego_xy in (('car', CAR, (CAR_AHEAD, 0.0)), ('ped', PEDESTRIAN, (-10.0, 5.0))):
        size = spec['size']
        tables['instance'].append(dict(token=f'inst_{name}', category_token=f'cat_{name}',
                                       nbr_annotations=1, first_annotation_token=f'ann_{name}',
                                       last_annotation_token=f'ann_{name}'))
        centre = ego_to_global([*ego_xy, size[2] / 2])
        tables['sample_annotation'].append(dict(
            token=f'ann_{name}', sample_token=KEY_SAMPLE, instance_token=f'inst_{name}',
            visibility_token='4', attribute_tokens=[], translation=centre.tolist(), size=size,
            rotation=list(Quaternion(axis=(0, 0, 1), radians=EGO_YAW).elements), prev='', next='',
            num_lidar_pts=10, num_radar_pts=2))
