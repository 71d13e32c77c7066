"""Shared fixtures: a tiny, hand-controlled nuScenes dataroot and its info files.

``TinyNuScenes`` writes a complete nuScenes layout (the 13 devkit tables, a map PNG, camera
PNGs, radar .pcd and LIDAR_TOP .pcd.bin files) from poses, calibrations and points given by the
test, so that expected values can be computed by hand.
"""
import json
import os.path as osp
import struct
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mmcv
import mmengine
import numpy as np
import pytest
from pyquaternion import Quaternion

CAMERAS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT', 'CAM_BACK_RIGHT')
CAMERA_YAWS = (0.0, -55.0, 55.0, 180.0, 110.0, -110.0)
RADARS = ('RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_FRONT_RIGHT', 'RADAR_BACK_LEFT', 'RADAR_BACK_RIGHT')
RADAR_YAWS = (0.0, 90.0, -90.0, 150.0, -150.0)
PCD_FIELDS = ('x y z dyn_prop id rcs vx vy vx_comp vy_comp is_quality_valid ambig_state x_rms y_rms '
              'invalid_state pdh0 vx_rms vy_rms')
PCD_STRUCT = struct.Struct('<fffbhfffffbbbbbbbb')  # 43 bytes a point, as nuScenes radar files
CATEGORIES = ('vehicle.car', 'human.pedestrian.adult', 'movable_object.barrier', 'animal')
ATTRIBUTE_NAMES = ('vehicle.moving', 'vehicle.parked', 'pedestrian.moving')


def yaw_quaternion(yaw_deg: float) -> List[float]:
    """(w, x, y, z) of a rotation about z."""
    return list(Quaternion(axis=[0, 0, 1], degrees=yaw_deg).elements)


def camera_quaternion(yaw_deg: float) -> List[float]:
    """A camera (x right, y down, z forward) looking horizontally along ego yaw ``yaw_deg``."""
    cam_axes_in_ego = np.array([[0, 0, 1], [-1, 0, 0], [0, -1, 0]], dtype=float)  # columns: cam x, y, z
    rotation = Quaternion(axis=[0, 0, 1], degrees=yaw_deg).rotation_matrix @ cam_axes_in_ego
    return list(Quaternion(matrix=rotation).elements)


def radar_point(x: float, y: float, vx_comp: float = 0.0, vy_comp: float = 0.0, rcs: float = 5.0,
                invalid_state: int = 0, dyn_prop: int = 0, ambig_state: int = 3) -> tuple:
    """One radar return as the 18 .pcd fields (z = 0, vx/vy = compensated + 1)."""
    return (x, y, 0.0, dyn_prop, 7, rcs, vx_comp + 1.0, vy_comp + 1.0, vx_comp, vy_comp, 1, ambig_state,
            0, 0, invalid_state, 1, 0, 0)


def write_radar_pcd(path: str, points: Sequence[tuple]) -> None:
    """A nuScenes radar .pcd: ASCII header, then 43 bytes a point and one trailing byte."""
    header = ('# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n'
              f'FIELDS {PCD_FIELDS}\nSIZE 4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1\n'
              'TYPE F F F I I F F F F F I I I I I I I I\nCOUNT 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1\n'
              f'WIDTH {len(points)}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\nPOINTS {len(points)}\nDATA binary\n')
    payload = b''.join(PCD_STRUCT.pack(*p) for p in points)
    mmengine.mkdir_or_exist(osp.dirname(path))
    with open(path, 'wb') as f:
        f.write(header.encode() + payload + b'\x00')  # the devkit needs one byte past the last point


class TinyNuScenes:
    """Collects scenes in memory and writes them as a nuScenes dataroot.

    Args:
        root: dataroot to write.
        version: version folder name.
        image_hw: camera image size.
        intrinsic: 3x3 camera matrix shared by the cameras.
        lidar_calib: (translation, yaw in degrees) of LIDAR_TOP on the ego.
    """

    def __init__(self, root: str, version: str = 'v1.0-tiny', image_hw: Tuple[int, int] = (24, 40),
                 intrinsic: Optional[np.ndarray] = None,
                 lidar_calib: Tuple[Sequence[float], float] = ((0.9, 0.0, 1.8), -90.0)) -> None:
        self.root, self.version, self.image_hw = str(root), version, image_hw
        self.intrinsic = np.array([[20.0, 0, 20], [0, 20.0, 12], [0, 0, 1]]) if intrinsic is None else intrinsic
        self.tables: Dict[str, list] = {name: [] for name in (
            'category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor', 'ego_pose', 'log',
            'scene', 'sample', 'sample_data', 'sample_annotation', 'map')}
        self.tables['category'] = [dict(token=f'cat-{n}', name=n, description='') for n in CATEGORIES]
        self.tables['attribute'] = [dict(token=f'attr-{n}', name=n, description='') for n in ATTRIBUTE_NAMES]
        self.tables['visibility'] = [dict(token='4', level='v80-100', description='')]
        self.calibs: Dict[str, Tuple[Sequence[float], List[float]]] = {
            'LIDAR_TOP': (list(lidar_calib[0]), yaw_quaternion(lidar_calib[1]))}
        for channel, yaw in zip(CAMERAS, CAMERA_YAWS):
            self.calibs[channel] = ([1.0, 0.0, 1.5], camera_quaternion(yaw))
        for channel, yaw in zip(RADARS, RADAR_YAWS):
            self.calibs[channel] = ([2.0, 0.0, 0.5], yaw_quaternion(yaw))
        self._instances: Dict[str, dict] = {}

    def set_calibration(self, channel: str, translation: Sequence[float], rotation: Sequence[float]) -> None:
        """Place a sensor on the ego: translation (3) and quaternion (w, x, y, z)."""
        self.calibs[channel] = (list(translation), list(rotation))

    def _token(self, prefix: str) -> str:
        return f'{prefix}-{sum(len(t) for t in self.tables.values()):06d}'

    def _sample_data(self, channel: str, t: float, sample_token: str, is_key: bool, ego_pose: Callable,
                     filename: str, prev: str) -> str:
        token = self._token(f'sd-{channel}')
        translation, rotation = ego_pose(t)
        self.tables['ego_pose'].append(dict(token=token, timestamp=int(round(t * 1e6)),
                                            translation=list(translation), rotation=list(rotation)))
        self.tables['sample_data'].append(dict(
            token=token, sample_token=sample_token, ego_pose_token=token,
            calibrated_sensor_token=f'calib-{self._scene_token}-{channel}', timestamp=int(round(t * 1e6)),
            fileformat=filename.rsplit('.', 1)[-1], is_key_frame=is_key, height=0, width=0, filename=filename,
            prev=prev, next=''))
        if prev:
            next(sd for sd in self.tables['sample_data'] if sd['token'] == prev)['next'] = token
        return token

    def add_scene(self, name: str, key_times: Sequence[float], ego_pose: Callable,
                  radar_points: Callable, lidar_points: Callable, boxes: Callable = lambda t: [],
                  location: str = 'boston-seaport', log_name: str = 'log-a', radar_times: Callable = None,
                  image: Callable = None) -> str:
        """Add a scene; returns its token.

        Args:
            key_times: sample timestamps in seconds.
            ego_pose: t -> (translation (3), quaternion (4)) of the ego in the global frame.
            radar_points: (channel, t) -> list of ``radar_point`` tuples.
            lidar_points: t -> (P, 5) LIDAR_TOP points.
            boxes: t -> list of dict(instance, category, center (global), wlh, yaw_deg, attribute).
            radar_times: key time -> radar sweep times before it (non-key sweeps), default one at t - 0.05.
            image: (channel, t) -> (H, W, 3) uint8, default a per-camera constant.
        """
        log = next((log for log in self.tables['log'] if log['logfile'] == log_name), None)
        if log is None:
            log = dict(token=f'log-{log_name}', logfile=log_name, vehicle='tiny', date_captured='2026-01-01',
                       location=location)
            self.tables['log'].append(log)
        self._scene_token = scene_token = f'scene-token-{name}'
        for channel, (translation, rotation) in self.calibs.items():
            modality = 'lidar' if channel == 'LIDAR_TOP' else 'camera' if channel.startswith('CAM') else 'radar'
            if not any(s['channel'] == channel for s in self.tables['sensor']):
                self.tables['sensor'].append(dict(token=f'sensor-{channel}', channel=channel, modality=modality))
            self.tables['calibrated_sensor'].append(dict(
                token=f'calib-{scene_token}-{channel}', sensor_token=f'sensor-{channel}',
                translation=translation, rotation=rotation,
                camera_intrinsic=self.intrinsic.tolist() if modality == 'camera' else []))
        radar_times = radar_times or (lambda t: [t - 0.05])
        image = image or (lambda channel, t: np.full((*self.image_hw, 3), 10 * CAMERAS.index(channel), np.uint8))
        sample_tokens, prev_sd = [], {}
        for t in key_times:
            token = f'sample-{name}-{len(sample_tokens)}'
            self.tables['sample'].append(dict(token=token, timestamp=int(round(t * 1e6)), scene_token=scene_token,
                                              prev=sample_tokens[-1] if sample_tokens else '', next=''))
            if sample_tokens:
                self.tables['sample'][-2]['next'] = token
            sample_tokens.append(token)
            stamp = f'{name}_{int(round(t * 1e6))}'
            for channel in RADARS:
                for tr in list(radar_times(t)) + [t]:
                    path = f'{"samples" if tr == t else "sweeps"}/{channel}/{name}_{int(round(tr * 1e6))}.pcd'
                    write_radar_pcd(osp.join(self.root, path), radar_points(channel, tr))
                    prev_sd[channel] = self._sample_data(channel, tr, token, tr == t, ego_pose, path,
                                                         prev_sd.get(channel, ''))
            path = f'samples/LIDAR_TOP/{stamp}.pcd.bin'
            mmengine.mkdir_or_exist(osp.join(self.root, 'samples/LIDAR_TOP'))
            np.asarray(lidar_points(t), dtype=np.float32).reshape(-1, 5).tofile(osp.join(self.root, path))
            prev_sd['LIDAR_TOP'] = self._sample_data('LIDAR_TOP', t, token, True, ego_pose, path,
                                                     prev_sd.get('LIDAR_TOP', ''))
            for channel in CAMERAS:
                path = f'samples/{channel}/{stamp}.png'
                mmcv.imwrite(image(channel, t), osp.join(self.root, path))
                prev_sd[channel] = self._sample_data(channel, t, token, True, ego_pose, path,
                                                     prev_sd.get(channel, ''))
            for box in boxes(t):
                self._annotate(token, box)
        self.tables['scene'].append(dict(token=scene_token, name=name, description='', log_token=log['token'],
                                         nbr_samples=len(sample_tokens), first_sample_token=sample_tokens[0],
                                         last_sample_token=sample_tokens[-1]))
        return scene_token

    def _annotate(self, sample_token: str, box: dict) -> None:
        instance = self._instances.get(box['instance'])
        if instance is None:
            instance = dict(token=f'inst-{box["instance"]}', category_token=f'cat-{box["category"]}',
                            nbr_annotations=0, first_annotation_token='', last_annotation_token='')
            self._instances[box['instance']] = instance
            self.tables['instance'].append(instance)
        token = self._token('ann')
        prev = instance['last_annotation_token']
        self.tables['sample_annotation'].append(dict(
            token=token, sample_token=sample_token, instance_token=instance['token'], visibility_token='4',
            attribute_tokens=[f'attr-{box["attribute"]}'] if box.get('attribute') else [],
            translation=list(box['center']), size=list(box['wlh']), rotation=yaw_quaternion(box['yaw_deg']),
            num_lidar_pts=box.get('num_lidar_pts', 3), num_radar_pts=box.get('num_radar_pts', 1),
            prev=prev, next=''))
        if prev:
            next(a for a in self.tables['sample_annotation'] if a['token'] == prev)['next'] = token
        instance['first_annotation_token'] = instance['first_annotation_token'] or token
        instance['last_annotation_token'] = token
        instance['nbr_annotations'] += 1

    def write(self, splits: Optional[Dict[str, List[str]]] = None) -> str:
        """Write the tables (and ``splits.json`` in the version folder when given); returns the root."""
        mmengine.mkdir_or_exist(osp.join(self.root, 'maps'))
        mmcv.imwrite(np.zeros((8, 8), np.uint8), osp.join(self.root, 'maps', 'tiny.png'))
        self.tables['map'] = [dict(token='map-tiny', filename='maps/tiny.png', category='semantic_prior',
                                   log_tokens=[log['token'] for log in self.tables['log']])]
        table_root = osp.join(self.root, self.version)
        mmengine.mkdir_or_exist(table_root)
        for name, records in self.tables.items():
            with open(osp.join(table_root, f'{name}.json'), 'w') as f:
                json.dump(records, f)
        if splits is not None:
            with open(osp.join(table_root, 'splits.json'), 'w') as f:
                json.dump(splits, f)
        return self.root


def _moving_ego(t: float) -> Tuple[List[float], List[float]]:
    """An ego driving along global x at 5 m/s, turning slowly (2 degrees a second)."""
    return [100.0 + 5.0 * t, 50.0, 0.0], yaw_quaternion(2.0 * t)


def write_default_tiny(root: str, version: str = 'v1.0-tiny') -> TinyNuScenes:
    """Four scenes in two logs and two locations, 3 samples each, a car and a pedestrian per sample."""
    rng = np.random.default_rng(0)
    lidar = rng.uniform([-20, -20, -1, 0, 0], [20, 20, 2, 100, 31], size=(400, 5))
    writer = TinyNuScenes(root, version)
    scenes = (('scene-0001', 'log-a', 'boston-seaport', 0.0), ('scene-0002', 'log-a', 'boston-seaport', 20.0),
              ('scene-0003', 'log-b', 'singapore-onenorth', 40.0), ('scene-0004', 'log-b', 'singapore-onenorth', 60.0))
    for name, log_name, location, start in scenes:
        writer.add_scene(
            name, key_times=[start + 0.5 * k for k in range(3)], ego_pose=_moving_ego,
            radar_points=lambda channel, t: [radar_point(10.0, 1.0, 1.0, 0.0), radar_point(20.0, -2.0, 0.0, 2.0),
                                             radar_point(5.0, 0.0, invalid_state=1)],
            lidar_points=lambda t: lidar, location=location, log_name=log_name,
            radar_times=lambda t: [t - 0.15, t - 0.075],
            boxes=lambda t: [dict(instance=f'car-{name}', category='vehicle.car', center=[110.0 + 5 * t, 52.0, 1.0],
                                  wlh=[1.8, 4.5, 1.6], yaw_deg=10.0, attribute='vehicle.moving'),
                             dict(instance=f'ped-{name}', category='human.pedestrian.adult',
                                  center=[105.0 + 5 * t, 45.0, 0.9], wlh=[0.6, 0.7, 1.8], yaw_deg=0.0),
                             dict(instance=f'dog-{name}', category='animal', center=[104.0, 40.0, 0.3],
                                  wlh=[0.3, 0.6, 0.5], yaw_deg=0.0)])
    writer.write(splits={'synthetic_train': ['scene-0001', 'scene-0002', 'scene-0003'],
                         'synthetic_val': ['scene-0004'], 'tiny_train_boston': ['scene-0001', 'scene-0002']})
    return writer


@pytest.fixture(scope='session')
def tiny_nuscenes(tmp_path_factory) -> dict:
    """A tiny dataroot with its info files: dict(root, version, train, val) (info file paths)."""
    from ccu_av.datasets.nuscenes_converter import create_nuscenes_infos
    root = str(tmp_path_factory.mktemp('tiny_nuscenes'))
    write_default_tiny(root)
    paths = create_nuscenes_infos(root, 'v1.0-tiny', root)
    return dict(root=root, version='v1.0-tiny', **paths)


@pytest.fixture
def tiny_nuscenes_writer() -> type:
    """The TinyNuScenes class, for tests that need their own poses and points."""
    return TinyNuScenes


@pytest.fixture
def write_tiny() -> Callable:
    """write_default_tiny(root, version) for tests that damage a dataroot of their own."""
    return write_default_tiny


@pytest.fixture
def radar_point_fn() -> Callable:
    return radar_point


@pytest.fixture
def refused(capsys):
    """``refused(call, *args, match=regex)``: ``call(*args)`` exits with status 2 (a user error of
    ``ccu_av.utils.cli.user_errors``), its message on stderr matching ``match`` (one line, or a
    first line and the list it names), no traceback."""
    import re

    def check(call, *args, match: str) -> str:
        capsys.readouterr()
        with pytest.raises(SystemExit) as exit_:
            call(*args)
        err = capsys.readouterr().err
        assert exit_.value.code == 2, err
        assert re.search(match, err), err
        assert 'Traceback' not in err and ': error: ' in err.splitlines()[0], err
        return err
    return check
