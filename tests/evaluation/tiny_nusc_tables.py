"""A tiny nuScenes dataroot written from scratch, and predictions on it, for the evaluation tests.

The tables hold what the devkit's evaluation reads: 4 scenes named after v1.0-mini scenes (so the
predefined ``mini_train``/``mini_val`` splits apply) with moving ego poses, a LIDAR_TOP rotated and
tilted against the ego frame, every detection class, tracks (velocity from prev/next) and single
annotations (NaN velocity), boxes beyond the class ranges, boxes without points, a bicycle inside
a bicycle rack, and an ``animal`` that is no detection class. A ``splits.json`` defines custom splits.
"""
import json
from pathlib import Path
from typing import Dict, List

import numpy as np
from pyquaternion import Quaternion

VERSION = 'v1.0-mini'
SCENES = {'scene-0061': 'singapore-onenorth', 'scene-0553': 'boston-seaport',
          'scene-0103': 'boston-seaport', 'scene-0916': 'singapore-onenorth'}
CUSTOM_SPLITS = {'forget': ['scene-0061'], 'heldout': ['scene-0103', 'scene-0916']}
# category -> (detection class or None, (w, l, h), attribute when moving, attribute when still)
CATEGORIES = {
    'vehicle.car': ('car', (1.9, 4.6, 1.7), 'vehicle.moving', 'vehicle.parked'),
    'vehicle.truck': ('truck', (2.5, 7.0, 3.0), 'vehicle.moving', 'vehicle.stopped'),
    'vehicle.construction': ('construction_vehicle', (2.8, 6.5, 3.2), 'vehicle.moving', 'vehicle.parked'),
    'vehicle.bus.rigid': ('bus', (2.9, 11.0, 3.5), 'vehicle.moving', 'vehicle.stopped'),
    'vehicle.trailer': ('trailer', (2.3, 10.0, 3.8), 'vehicle.moving', 'vehicle.parked'),
    'movable_object.barrier': ('barrier', (2.5, 0.5, 1.0), None, None),
    'vehicle.motorcycle': ('motorcycle', (0.8, 2.1, 1.5), 'cycle.with_rider', 'cycle.without_rider'),
    'vehicle.bicycle': ('bicycle', (0.6, 1.7, 1.3), 'cycle.with_rider', 'cycle.without_rider'),
    'human.pedestrian.adult': ('pedestrian', (0.7, 0.7, 1.8), 'pedestrian.moving', 'pedestrian.standing'),
    'movable_object.trafficcone': ('traffic_cone', (0.4, 0.4, 0.8), None, None),
    'animal': (None, (0.4, 0.8, 0.6), None, None),
    'static_object.bicycle_rack': (None, (2.0, 6.0, 1.2), None, None),
}
ATTRIBUTES = ['vehicle.moving', 'vehicle.parked', 'vehicle.stopped', 'cycle.with_rider',
              'cycle.without_rider', 'pedestrian.moving', 'pedestrian.standing',
              'pedestrian.sitting_lying_down']
SAMPLE_PERIOD_US = 500_000


class _Tables:
    """Accumulates table records and hands out readable, unique tokens."""

    def __init__(self):
        self.tables: Dict[str, List[dict]] = {name: [] for name in (
            'category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor',
            'ego_pose', 'log', 'scene', 'sample', 'sample_data', 'sample_annotation', 'map')}

    def add(self, table: str, **record) -> dict:
        record.setdefault('token', f'{table}-{len(self.tables[table]):05d}')
        self.tables[table].append(record)
        return record


def _link(records: List[dict]) -> None:
    for prev, nxt in zip(records[:-1], records[1:]):
        prev['next'], nxt['prev'] = nxt['token'], prev['token']


def _write_scene(t: _Tables, rng: np.random.Generator, name: str, log: dict, lidar_cs: dict,
                 n_samples: int, t0: int) -> None:
    """One scene: a moving ego, key-frame LIDAR_TOP sample data, and the objects around it."""
    heading = rng.uniform(-np.pi, np.pi)
    ego_start = rng.uniform(-300, 300, size=2)
    ego_dir = np.array([np.cos(heading), np.sin(heading)])
    samples = []
    for i in range(n_samples):
        timestamp = t0 + i * SAMPLE_PERIOD_US
        sample = t.add('sample', timestamp=timestamp, prev='', next='', scene_token='')
        xy = ego_start + ego_dir * 4.0 * i
        pose = t.add('ego_pose', timestamp=timestamp, translation=[*xy, 0.0],
                     rotation=list(Quaternion(axis=[0, 0, 1], angle=heading + 0.02 * i).elements))
        t.add('sample_data', sample_token=sample['token'], ego_pose_token=pose['token'],
              calibrated_sensor_token=lidar_cs['token'], timestamp=timestamp,
              fileformat='pcd', is_key_frame=True, height=0, width=0,
              filename=f'samples/LIDAR_TOP/{sample["token"]}.pcd.bin', prev='', next='')
        samples.append(sample)
    _link(samples)
    scene = t.add('scene', log_token=log['token'], nbr_samples=n_samples, name=name,
                  description='tiny', first_sample_token=samples[0]['token'],
                  last_sample_token=samples[-1]['token'])
    for sample in samples:
        sample['scene_token'] = scene['token']
    ego_xy = [ego_start + ego_dir * 4.0 * i for i in range(n_samples)]
    _write_objects(t, rng, samples, ego_xy)


def _write_objects(t: _Tables, rng: np.random.Generator, samples: List[dict],
                   ego_xy: List[np.ndarray]) -> None:
    """Tracks of every category around the ego path, plus the filter cases."""
    category_tokens = {c['name']: c['token'] for c in t.tables['category']}
    attribute_tokens = {a['name']: a['token'] for a in t.tables['attribute']}
    centre = np.mean(ego_xy, axis=0)
    specs = []  # (category, start xy, velocity xy, first sample, last sample, points)
    for category in CATEGORIES:
        for _ in range(int(rng.integers(1, 4))):
            first = int(rng.integers(0, len(samples)))
            last = first if rng.random() < 0.2 else int(rng.integers(first, len(samples)))
            speed = 0.0 if rng.random() < 0.4 else rng.uniform(0.5, 8.0)
            angle = rng.uniform(-np.pi, np.pi)
            xy = centre + rng.uniform(-38, 38, size=2)
            specs.append((category, xy, speed * np.array([np.cos(angle), np.sin(angle)]),
                          first, last, int(rng.integers(0, 3)) if rng.random() < 0.15 else 20))
    # beyond every class range, and a bicycle parked inside a bicycle rack
    specs.append(('vehicle.car', centre + np.array([70.0, 0.0]), np.zeros(2), 0, len(samples) - 1, 30))
    rack_xy = centre + np.array([5.0, 8.0])
    specs.append(('static_object.bicycle_rack', rack_xy, np.zeros(2), 0, len(samples) - 1, 30))
    specs.append(('vehicle.bicycle', rack_xy + 0.5, np.zeros(2), 0, len(samples) - 1, 30))
    for category, xy, velocity, first, last, points in specs:
        _write_track(t, rng, samples[first:last + 1], category_tokens[category], category,
                     attribute_tokens, xy, velocity, points)


def _write_track(t: _Tables, rng: np.random.Generator, samples: List[dict], category_token: str,
                 category: str, attribute_tokens: Dict[str, str], xy: np.ndarray,
                 velocity: np.ndarray, points: int) -> None:
    _, (w, l, h), moving_attr, still_attr = CATEGORIES[category]
    moving = np.linalg.norm(velocity) > 0
    attribute = moving_attr if moving else still_attr
    yaw = np.arctan2(velocity[1], velocity[0]) if moving else rng.uniform(-np.pi, np.pi)
    size = [w * rng.uniform(0.9, 1.1), l * rng.uniform(0.9, 1.1), h * rng.uniform(0.9, 1.1)]
    instance = t.add('instance', category_token=category_token, nbr_annotations=len(samples),
                     first_annotation_token='', last_annotation_token='')
    anns = []
    t0 = samples[0]['timestamp']
    for sample in samples:
        dt = (sample['timestamp'] - t0) * 1e-6
        centre = [*(xy + velocity * dt), h / 2 + rng.uniform(-0.2, 0.2)]
        num_lidar = points if points == 0 else int(rng.integers(1, points + 1))
        anns.append(t.add(
            'sample_annotation', sample_token=sample['token'], instance_token=instance['token'],
            visibility_token='4', attribute_tokens=[attribute_tokens[attribute]] if attribute else [],
            translation=centre, size=size,
            rotation=list(Quaternion(axis=[0, 0, 1], angle=yaw).elements),
            prev='', next='', num_lidar_pts=num_lidar, num_radar_pts=0 if points == 0 else 1))
    _link(anns)
    instance['first_annotation_token'] = anns[0]['token']
    instance['last_annotation_token'] = anns[-1]['token']


def write_tiny_nuscenes(root: Path, seed: int = 0, n_samples: int = 5) -> Path:
    """Write the tables of a tiny v1.0-mini dataroot under ``root``; returns ``root``."""
    rng = np.random.default_rng(seed)
    t = _Tables()
    for name in CATEGORIES:
        t.add('category', name=name, description=name)
    for name in ATTRIBUTES:
        t.add('attribute', name=name, description=name)
    t.add('visibility', token='4', level='v80-100', description='visible')
    sensor = t.add('sensor', channel='LIDAR_TOP', modality='lidar')
    for i, (scene_name, location) in enumerate(SCENES.items()):
        log = t.add('log', logfile=f'log-{i}', vehicle='tiny', date_captured='2026-11-28',
                    location=location)
        # nuScenes' LIDAR_TOP is turned about 90 degrees against the ego frame; tilt it a little too
        rotation = (Quaternion(axis=[0, 0, 1], angle=-np.pi / 2 + 0.01 * i)
                    * Quaternion(axis=[1, 0, 0], angle=0.02))
        lidar_cs = t.add('calibrated_sensor', sensor_token=sensor['token'],
                         translation=[0.94, 0.01 * i, 1.84], rotation=list(rotation.elements),
                         camera_intrinsic=[])
        _write_scene(t, rng, scene_name, log, lidar_cs, n_samples, t0=10**15 + i * 10**9)
    t.add('map', category='semantic_prior', filename='maps/tiny.png',
          log_tokens=[log['token'] for log in t.tables['log']])
    (root / 'maps').mkdir(parents=True, exist_ok=True)
    (root / 'maps' / 'tiny.png').write_bytes(b'')  # the devkit only checks that it exists
    table_dir = root / VERSION
    table_dir.mkdir(parents=True, exist_ok=True)
    for name, records in t.tables.items():
        (table_dir / f'{name}.json').write_text(json.dumps(records))
    (table_dir / 'splits.json').write_text(json.dumps(CUSTOM_SPLITS))
    return root


def gt_predictions(nusc, noise: float, seed: int) -> Dict[str, List[dict]]:
    """Predictions in the submission format made from the ground truth of every sample.

    ``noise=0`` gives the ground-truth boxes with distinct scores; larger values jitter the boxes,
    drop some, swap some classes and add false positives.
    """
    from nuscenes.eval.detection.utils import category_to_detection_name
    rng = np.random.default_rng(seed)
    classes = [c[0] for c in CATEGORIES.values() if c[0]]
    predictions = {}
    for sample in nusc.sample:
        boxes = []
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            name = category_to_detection_name(ann['category_name'])
            if name is None or rng.random() < noise * 0.3:
                continue
            if rng.random() < noise * 0.2:
                name = classes[int(rng.integers(len(classes)))]
            attribute_tokens = ann['attribute_tokens']
            if rng.random() < noise * 0.3:
                attribute_tokens = [nusc.attribute[int(rng.integers(len(nusc.attribute)))]['token']]
            velocity = np.nan_to_num(nusc.box_velocity(ann_token)[:2])
            yaw = Quaternion(ann['rotation']).yaw_pitch_roll[0] + rng.normal(0, noise * 0.3)
            boxes.append(_box(sample['token'], name,
                              np.array(ann['translation']) + rng.normal(0, noise, 3),
                              np.array(ann['size']) * np.exp(rng.normal(0, noise * 0.1, 3)),
                              yaw, velocity + rng.normal(0, noise, 2), rng, attribute_tokens,
                              nusc))
        ego = nusc.get('ego_pose', nusc.get('sample_data', sample['data']['LIDAR_TOP'])['ego_pose_token'])
        for _ in range(int(rng.poisson(noise * 3))):
            name = classes[int(rng.integers(len(classes)))]
            xy = np.array(ego['translation'][:2]) + rng.uniform(-45, 45, 2)
            boxes.append(_box(sample['token'], name, np.array([*xy, 1.0]), np.array([1.5, 3.0, 1.5]),
                              rng.uniform(-np.pi, np.pi), rng.normal(0, 1, 2), rng, [], nusc))
        predictions[sample['token']] = boxes
    return predictions


def _box(token, name, translation, size, yaw, velocity, rng, attribute_tokens, nusc) -> dict:
    attribute = nusc.get('attribute', attribute_tokens[0])['name'] if attribute_tokens else ''
    if name in ('barrier', 'traffic_cone'):
        attribute = ''
    return dict(sample_token=token, translation=[float(v) for v in translation],
                size=[float(v) for v in size],
                rotation=[float(v) for v in Quaternion(axis=[0, 0, 1], angle=yaw).elements],
                velocity=[float(v) for v in velocity], detection_name=name,
                detection_score=float(rng.uniform(0.05, 1.0)), attribute_name=attribute)
