"""nuScenes (real or synthetic) -> mmdet3d v2 info files with radar sweeps and depth sources.

The sample layout is mmdet3d 1.4's nuScenes info format (``data_list`` of samples with
``images``, ``lidar_points``, ``instances``), extended with what a camera+radar detector needs
and mmdet3d's converter does not write: every radar's sweeps with an ego-motion compensated
sensor-to-LIDAR_TOP transform, and the scene, log and location of each sample for takedowns.
The field-by-field contract is ``docs/data_format.md``.
"""
import json
import os
import os.path as osp
from typing import Dict, List, Optional, Sequence, Tuple

import mmengine
import numpy as np
from mmengine.logging import MMLogger
from nuscenes.eval.detection.utils import category_to_detection_name
from nuscenes.nuscenes import NuScenes
from nuscenes.utils.geometry_utils import transform_matrix
from nuscenes.utils.splits import get_scenes_of_split, is_predefined_split
from pyquaternion import Quaternion

from .transforms.radar import check_radar_pcd

CLASSES = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle',
           'bicycle', 'pedestrian', 'traffic_cone')
# mmdet3d's nuScenes attribute order; 'None' for objects without one.
ATTRIBUTES = ('cycle.with_rider', 'cycle.without_rider', 'pedestrian.moving', 'pedestrian.standing',
              'pedestrian.sitting_lying_down', 'vehicle.moving', 'vehicle.parked', 'vehicle.stopped',
              'None')
CAMERA_CHANNELS = ('CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT', 'CAM_BACK', 'CAM_BACK_LEFT',
                   'CAM_BACK_RIGHT')
RADAR_CHANNELS = ('RADAR_FRONT', 'RADAR_FRONT_LEFT', 'RADAR_FRONT_RIGHT', 'RADAR_BACK_LEFT',
                  'RADAR_BACK_RIGHT')
TABLES = ('category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor',
          'ego_pose', 'log', 'scene', 'sample', 'sample_data', 'sample_annotation', 'map')
# Predefined splits of the devkit (nuscenes.utils.splits) per version: (train, val).
PREDEFINED_SPLITS = {'v1.0-trainval': ('train', 'val'), 'v1.0-mini': ('mini_train', 'mini_val')}
# Custom splits of any other version, in <version>/splits.json: the synthetic writer's names
# (the devkit reads a custom split only under a name that is not predefined).
CUSTOM_SPLITS = ('synthetic_train', 'synthetic_val')
INFO_VERSION = '1.1'


def load_nuscenes(root_path: str, version: str) -> NuScenes:
    """Open a nuScenes dataroot with the devkit, after checking what the devkit only asserts."""
    table_root = osp.join(root_path, version)
    if not osp.isdir(table_root):
        found = sorted(d for d in os.listdir(root_path) if osp.isdir(osp.join(root_path, d))) \
            if osp.isdir(root_path) else None
        where = f'folders found: {found}' if found is not None else 'the dataroot does not exist'
        raise FileNotFoundError(f'nuScenes dataroot {root_path} has no version folder {version!r} '
                                f'({where})')
    missing = [t for t in TABLES if not osp.isfile(osp.join(table_root, f'{t}.json'))]
    if missing:
        raise FileNotFoundError(f'nuScenes tables missing in {table_root}: '
                                f'{", ".join(t + ".json" for t in missing)}')
    try:
        nusc = NuScenes(version=version, dataroot=root_path, verbose=False)
    except KeyError as error:  # the devkit indexes some fields while loading: name the record
        _check_fields({table: _read_table(table_root, table) for table in REQUIRED_FIELDS}, table_root)
        raise ValueError(f'nuScenes tables of {table_root}: a record lacks the field {error}') from error
    except json.JSONDecodeError:
        # the devkit does not say which table failed to parse: find it (on failure only)
        for table in TABLES:
            path = osp.join(table_root, f'{table}.json')
            try:
                with open(path) as f:
                    json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f'nuScenes table {path} is not valid JSON (truncated or corrupt): '
                                 f'{error}') from error
        raise
    _check_fields({table: getattr(nusc, table) for table in REQUIRED_FIELDS}, table_root)
    return nusc


# the fields of each table the converter reads (the devkit's schema); a record without one would
# otherwise surface as a bare KeyError in the middle of the conversion
REQUIRED_FIELDS = dict(
    scene=('token', 'name', 'log_token', 'first_sample_token'),
    log=('token', 'logfile', 'location'),
    sample=('token', 'timestamp', 'scene_token', 'next'),
    sample_data=('token', 'sample_token', 'ego_pose_token', 'calibrated_sensor_token', 'filename', 'timestamp',
                 'prev'),
    ego_pose=('token', 'translation', 'rotation'),
    calibrated_sensor=('token', 'sensor_token', 'translation', 'rotation', 'camera_intrinsic'),
    sample_annotation=('token', 'sample_token', 'translation', 'size', 'rotation', 'num_lidar_pts',
                       'num_radar_pts'),
)


def _read_table(table_root: str, table: str) -> list:
    with open(osp.join(table_root, f'{table}.json')) as f:
        return json.load(f)


def _check_fields(tables: Dict[str, list], table_root: str) -> None:
    """ValueError naming the first record of each table that lacks a field the converter reads."""
    problems = []
    for table, records in tables.items():
        for record in records:
            missing = [key for key in REQUIRED_FIELDS[table] if key not in record]
            if missing:
                problems.append(f'{table}.json record {record.get("token", "?")} lacks {missing}')
                break
    if problems:
        raise ValueError(f'nuScenes tables of {table_root} miss fields the converter reads: ' + '; '.join(problems))


def resolve_splits(nusc: NuScenes, split_file: Optional[str] = None, train_split: Optional[str] = None,
                   val_split: Optional[str] = None) -> Dict[str, List[str]]:
    """Scene names of the train and val splits.

    With ``split_file`` (JSON: split name -> scene names), its ``train_split`` and ``val_split``
    entries (default ``train`` and ``val``). Without it, the devkit's ``get_scenes_of_split``: the
    predefined splits of v1.0-trainval / v1.0-mini, or the custom splits in
    ``<dataroot>/<version>/splits.json`` (default names those of the synthetic writer).
    """
    if split_file is not None:
        names = (train_split or 'train', val_split or 'val')
        if not osp.isfile(split_file):
            raise FileNotFoundError(f'split file {split_file} does not exist')
        try:
            with open(split_file) as f:
                table = json.load(f)
        except json.JSONDecodeError as error:
            raise ValueError(f'split file {split_file} is not valid JSON: {error}') from error
        source = split_file
    else:
        default = PREDEFINED_SPLITS.get(nusc.version, CUSTOM_SPLITS)
        names = (train_split or default[0], val_split or default[1])
        source = osp.join(nusc.dataroot, nusc.version, 'splits.json')
        table = {}
        for name in names:
            if not is_predefined_split(name) and not osp.isfile(source):
                raise FileNotFoundError(f'split {name!r} of version {nusc.version!r} is not predefined and '
                                        f'{source} does not exist (pass --split-file)')
            try:
                table[name] = get_scenes_of_split(name, nusc)
            except ValueError as error:  # the devkit's "custom split not found"
                raise ValueError(f'split {name!r}: {error}') from error
        if nusc.version in PREDEFINED_SPLITS:
            # a partial download holds only some scenes of the official split
            present = {scene['name'] for scene in nusc.scene}
            table = {name: [s for s in scenes if s in present] for name, scenes in table.items()}
    return _check_splits(nusc, table, names, source)


def _check_splits(nusc: NuScenes, table: object, names: Tuple[str, str], source: str) -> Dict[str, List[str]]:
    if not isinstance(table, dict) or not all(isinstance(table.get(name), list) for name in names):
        raise ValueError(f'split file {source}: expected a JSON object with {names[0]!r} and {names[1]!r} '
                         f'lists of scene names')
    known = {scene['name'] for scene in nusc.scene}
    for name in names:
        unknown = sorted(set(table[name]) - known)
        if unknown:
            raise ValueError(f'split {name!r} of {source} names scenes not in {nusc.version}: {unknown[:5]}'
                             f'{" ..." if len(unknown) > 5 else ""}')
    overlap = sorted(set(table[names[0]]) & set(table[names[1]]))
    if overlap:
        raise ValueError(f'{source}: scenes in both {names[0]!r} and {names[1]!r}: {overlap[:5]}')
    return {'train': list(table[names[0]]), 'val': list(table[names[1]])}


def _pose(record: dict) -> np.ndarray:
    """4x4 matrix of a calibrated_sensor or ego_pose record (sensor->ego, ego->global)."""
    return transform_matrix(record['translation'], Quaternion(record['rotation']))


class _SampleConverter:
    """Builds the info dicts of one dataroot; holds the devkit handle and the channel lists."""

    def __init__(self, nusc: NuScenes, max_radar_sweeps: int, cameras: Sequence[str],
                 radars: Sequence[str]) -> None:
        self.nusc = nusc
        self.max_radar_sweeps = max_radar_sweeps
        self.cameras = tuple(cameras)
        self.radars = tuple(radars)
        self.referenced: Dict[str, str] = {}  # relative path -> sample_data token (sweeps recur)

    def sensor2lidar(self, sd_token: str, lidar2global: np.ndarray) -> np.ndarray:
        """4x4 map from a sample_data's sensor frame, at its own time, to the key LIDAR_TOP frame.

        sensor -> ego(t_s) -> global -> ego(t_key) -> LIDAR_TOP: the ego-motion compensation.
        """
        sd = self.nusc.get('sample_data', sd_token)
        sensor2ego = _pose(self.nusc.get('calibrated_sensor', sd['calibrated_sensor_token']))
        ego2global = _pose(self.nusc.get('ego_pose', sd['ego_pose_token']))
        return np.linalg.inv(lidar2global) @ ego2global @ sensor2ego

    def _channel(self, sample: dict, channel: str) -> dict:
        if channel not in sample['data']:
            raise ValueError(f'sample {sample["token"]} has no {channel} key frame '
                             f'(it has {sorted(sample["data"])})')
        sd = self.nusc.get('sample_data', sample['data'][channel])
        self.referenced[sd['filename']] = sd['token']
        return sd

    def images(self, sample: dict, lidar2global: np.ndarray) -> dict:
        images = {}
        for channel in self.cameras:
            sd = self._channel(sample, channel)
            calib = self.nusc.get('calibrated_sensor', sd['calibrated_sensor_token'])
            cam2lidar = self.sensor2lidar(sd['token'], lidar2global)
            images[channel] = dict(
                img_path=sd['filename'], cam2img=np.asarray(calib['camera_intrinsic']).tolist(),
                cam2ego=_pose(calib).tolist(), lidar2cam=np.linalg.inv(cam2lidar).tolist(),
                sample_data_token=sd['token'], timestamp=sd['timestamp'] / 1e6)
        return images

    def radar_sweeps(self, sample: dict, lidar2global: np.ndarray) -> dict:
        radars = {}
        for channel in self.radars:
            sd, sweeps = self._channel(sample, channel), []
            while sd is not None and len(sweeps) < self.max_radar_sweeps:
                sensor2lidar = self.sensor2lidar(sd['token'], lidar2global)
                sweeps.append(dict(
                    data_path=sd['filename'], timestamp=sd['timestamp'] / 1e6, sample_data_token=sd['token'],
                    sensor2lidar_rotation=sensor2lidar[:3, :3].tolist(),
                    sensor2lidar_translation=sensor2lidar[:3, 3].tolist()))
                if len(sweeps) > 1:
                    self.referenced[sd['filename']] = sd['token']
                sd = self.nusc.get('sample_data', sd['prev']) if sd['prev'] else None
            radars[channel] = sweeps
        return radars

    def instances(self, sample: dict, lidar_sd: dict, lidar2ego: np.ndarray, ego2global: np.ndarray) -> list:
        _, boxes, _ = self.nusc.get_sample_data(lidar_sd['token'])  # boxes in the LIDAR_TOP frame
        global2lidar_rot = np.linalg.inv(ego2global[:3, :3] @ lidar2ego[:3, :3])
        instances = []
        for box in boxes:
            name = category_to_detection_name(box.name)
            if name is None:  # not one of the 10 detection classes
                continue
            ann = self.nusc.get('sample_annotation', box.token)
            velocity = global2lidar_rot @ self.nusc.box_velocity(box.token)  # NaN when unknown
            attrs = [self.nusc.get('attribute', t)['name'] for t in ann['attribute_tokens']]
            width, length, height = box.wlh
            instances.append(dict(
                # gravity centre, (l, w, h), yaw: what mmdet3d's nuScenes converter writes
                bbox_3d=[*box.center.tolist(), float(length), float(width), float(height),
                         float(box.orientation.yaw_pitch_roll[0])],
                bbox_label_3d=CLASSES.index(name),
                bbox_3d_isvalid=bool(ann['num_lidar_pts'] + ann['num_radar_pts'] > 0),
                velocity=velocity[:2].tolist(), num_lidar_pts=int(ann['num_lidar_pts']),
                num_radar_pts=int(ann['num_radar_pts']),
                attr_label=ATTRIBUTES.index(attrs[0]) if attrs and attrs[0] in ATTRIBUTES else len(ATTRIBUTES) - 1,
                instance_token=ann['instance_token']))
        return instances

    def sample_info(self, sample: dict, sample_idx: int) -> dict:
        scene = self.nusc.get('scene', sample['scene_token'])
        log = self.nusc.get('log', scene['log_token'])
        lidar_sd = self._channel(sample, 'LIDAR_TOP')
        lidar2ego = _pose(self.nusc.get('calibrated_sensor', lidar_sd['calibrated_sensor_token']))
        ego2global = _pose(self.nusc.get('ego_pose', lidar_sd['ego_pose_token']))
        lidar2global = ego2global @ lidar2ego
        return dict(
            sample_idx=sample_idx, token=sample['token'], timestamp=sample['timestamp'] / 1e6,
            scene_token=scene['token'], scene_name=scene['name'], log_token=log['token'],
            log_name=log['logfile'], location=log['location'], ego2global=ego2global.tolist(),
            lidar_points=dict(num_pts_feats=5, lidar_path=lidar_sd['filename'], lidar2ego=lidar2ego.tolist(),
                              sample_data_token=lidar_sd['token']),
            images=self.images(sample, lidar2global),
            radars=self.radar_sweeps(sample, lidar2global),
            instances=self.instances(sample, lidar_sd, lidar2ego, ego2global))

    def scene_infos(self, scene_names: Sequence[str]) -> List[dict]:
        """Infos of the scenes' samples, scene by scene, each in time order."""
        by_name = {scene['name']: scene for scene in self.nusc.scene}
        infos = []
        for i, name in enumerate(scene_names):
            if i and i % 50 == 0:
                MMLogger.get_current_instance().info(f'converted {i}/{len(scene_names)} scenes')
            token = by_name[name]['first_sample_token']
            while token:
                sample = self.nusc.get('sample', token)
                infos.append(self.sample_info(sample, len(infos)))
                token = sample['next']
        return infos

    def check_files(self) -> None:
        """Raise FileNotFoundError naming every referenced sensor file that is missing, and
        ValueError naming every radar .pcd that the loader could not read (its own header and
        size check, ``check_radar_pcd``), so a bad file fails here and not at training time."""
        missing = [(token, path) for path, token in self.referenced.items()
                   if not osp.isfile(osp.join(self.nusc.dataroot, path))]
        if missing:
            raise FileNotFoundError(f'{len(missing)} sensor files referenced by the tables of '
                                    f'{self.nusc.dataroot} do not exist:\n{_listed(missing)}')
        bad = []
        for path, token in self.referenced.items():
            if path.endswith('.pcd'):
                try:
                    check_radar_pcd(osp.join(self.nusc.dataroot, path))
                except ValueError as error:
                    bad.append((token, f'{path}: {str(error).split(": ", 1)[-1]}'))
        if bad:
            raise ValueError(f'{len(bad)} radar files of {self.nusc.dataroot} cannot be read:\n{_listed(bad)}')


def _listed(items: Sequence[tuple]) -> str:
    """(sample_data token, what) pairs as indented lines, the first 10 of them."""
    lines = '\n'.join(f'  {what} (sample_data {token})' for token, what in items[:10])
    return lines + (f'\n  ... and {len(items) - 10} more' if len(items) > 10 else '')


def create_nuscenes_infos(root_path: str, version: str, out_dir: str, info_prefix: str = 'nuscenes',
                          split_file: Optional[str] = None, train_split: Optional[str] = None,
                          val_split: Optional[str] = None, max_radar_sweeps: int = 10,
                          cameras: Sequence[str] = CAMERA_CHANNELS,
                          radars: Sequence[str] = RADAR_CHANNELS) -> Dict[str, str]:
    """Write ``<out_dir>/<info_prefix>_infos_{train,val}.pkl``; returns {split: path}.

    Everything is read and checked (tables, splits, every referenced sensor file) before
    anything is written; both files are written under temporary names and renamed at the end.
    """
    logger = MMLogger.get_current_instance()
    if max_radar_sweeps < 1:
        raise ValueError(f'max_radar_sweeps must be at least 1, got {max_radar_sweeps}')
    nusc = load_nuscenes(root_path, version)
    splits = resolve_splits(nusc, split_file, train_split, val_split)
    converter = _SampleConverter(nusc, max_radar_sweeps, cameras, radars)
    metainfo = dict(categories={name: i for i, name in enumerate(CLASSES)}, attributes=list(ATTRIBUTES),
                    dataset='nuscenes', version=version, info_version=INFO_VERSION)
    contents = {}
    for split, scene_names in splits.items():
        data_list = converter.scene_infos(scene_names)
        logger.info(f'{version} {split}: {len(scene_names)} scenes, {len(data_list)} samples')
        contents[split] = dict(metainfo=dict(metainfo, split=split), data_list=data_list)
    converter.check_files()

    mmengine.mkdir_or_exist(out_dir)
    paths = {split: osp.join(out_dir, f'{info_prefix}_infos_{split}.pkl') for split in contents}
    _dump_all_or_nothing({paths[split]: content for split, content in contents.items()})
    return paths


def _dump_all_or_nothing(contents: Dict[str, dict]) -> None:
    """mmengine.dump each content to a temporary name beside its path, then rename them all into place."""
    tmp_paths = {path: f'{path}.tmp{os.getpid()}' for path in contents}
    try:
        for path, content in contents.items():
            mmengine.dump(content, tmp_paths[path], file_format='pkl')
        for path, tmp in tmp_paths.items():
            os.replace(tmp, path)
    finally:
        for tmp in tmp_paths.values():
            if osp.exists(tmp):
                os.remove(tmp)
