"""Simulate one scene and write its sensor files and table records.

A scene is independent of the others (its own seeds), so scenes can be written in parallel
and the dataset stays byte-identical for a seed.
"""
import os
from dataclasses import dataclass
from typing import Dict, List, Tuple

import numpy as np
from PIL import Image

from .appearance import location_look
from .camera import render_camera
from .scene_cast import PinholeGrid
from .config import SyntheticNuScenesConfig
from .geometry import yaw_quaternion
from .lidar import lidar_grid, simulate_lidar, write_lidar_bin
from .radar import radar_to_global, simulate_radar, write_radar_pcd
from .rig import Sensor, build_rig
from .sites import place_site
from .tables import Tokens
from .taxonomy import OBJECT_CLASSES
from .world import SIDEWALK_OUTER, SceneWorld, sample_world

KEY_INTERVAL_S = 0.5


@dataclass(frozen=True)
class SceneJob:
    """Everything needed to write one scene.

    Args:
        root: dataroot being written.
        config: the dataset config.
        seed_entropy: the scene's seed (a tuple of ints for ``np.random.SeedSequence``).
        name: scene name; location, log_token, logfile: its log; split: 'train' or 'val'.
        start_us: timestamp of its first key frame.
        origin, road_yaw: where its road lies on the location's map.
        calibrated: calibrated_sensor token by channel (of its log).
        category_tokens, attribute_tokens: tokens by name.
        site: the private site the scene shows ('' for none).
    """
    root: str
    config: SyntheticNuScenesConfig
    seed_entropy: Tuple[int, ...]
    name: str
    location: str
    log_token: str
    logfile: str
    split: str
    start_us: int
    origin: Tuple[float, float]
    road_yaw: float
    calibrated: Dict[str, str]
    category_tokens: Dict[str, str]
    attribute_tokens: Dict[str, str]
    site: str = ''


def _visibility_token(covered: int, visible: int) -> str:
    """nuScenes visibility bin token ('1'..'4') of the visible fraction over all cameras."""
    fraction = visible / covered if covered else 0.0
    return str(1 + int(np.searchsorted([0.4, 0.6, 0.8], fraction, side='right')))


def count_points_in_boxes(points: np.ndarray, centers: np.ndarray, yaws: np.ndarray,
                          sizes: np.ndarray) -> np.ndarray:
    """(K,) points of (P, 3) global ``points`` inside each box (faces included, as the devkit's points_in_box).

    Args:
        centers: (K, 3) box centres; yaws: (K,); sizes: (K, 3) as (length, width, height).
    """
    rel = points[None, :, :] - centers[:, None, :]  # (K, P, 3)
    cos, sin = np.cos(yaws)[:, None], np.sin(yaws)[:, None]
    x = cos * rel[..., 0] + sin * rel[..., 1]
    y = -sin * rel[..., 0] + cos * rel[..., 1]
    inside = (np.abs(x) <= sizes[:, None, 0] / 2) & (np.abs(y) <= sizes[:, None, 1] / 2) & \
             (np.abs(rel[..., 2]) <= sizes[:, None, 2] / 2)
    return inside.sum(axis=1)


class SceneWriter:
    """Writes one scene: sensor files under ``root`` and records for every scene-level table."""

    def __init__(self, job: SceneJob):
        self.job = job
        cfg = job.config
        seeds = np.random.SeedSequence(job.seed_entropy).spawn(3)
        self.world_rng, self.sensor_rng = np.random.default_rng(seeds[0]), np.random.default_rng(seeds[1])
        self.tokens = Tokens(seeds[2])
        self.rig = build_rig(cfg.image_width, cfg.image_height)
        self.look = location_look(job.location)
        self.key_times = np.arange(cfg.samples_per_scene) * KEY_INTERVAL_S
        self.tables = {name: [] for name in ('ego_pose', 'sample', 'sample_data', 'sample_annotation', 'instance')}
        self.world = self._sample_world()
        # the site's place is no random draw: a scene with a site has the same world as without it
        self.site = place_site(job.site, job.location, self.world, self.key_times[-1] / 2) if job.site else None

    def _sample_world(self) -> SceneWorld:
        cfg = self.job.config
        sweep_dt = KEY_INTERVAL_S / cfg.radar_sweeps_per_interval
        t_first = -cfg.radar_lead_sweeps * sweep_dt - 0.1
        times = np.linspace(t_first, self.key_times[-1] + 0.1, 4 * len(self.key_times) + 8)
        num = int(self.world_rng.integers(cfg.objects_per_scene[0], cfg.objects_per_scene[1] + 1))
        return sample_world(self.world_rng, np.array(self.job.origin), self.job.road_yaw, times, num)

    def road_polygon(self) -> np.ndarray:
        """(4, 2) global corners of the road and sidewalks this scene drives on, with room around it."""
        s_end = self.world.ego_s(self.key_times[-1])
        s = np.array([-90.0, s_end + 90.0, s_end + 90.0, -90.0])
        d = np.array([-SIDEWALK_OUTER, -SIDEWALK_OUTER, SIDEWALK_OUTER, SIDEWALK_OUTER])
        return self.world.road_to_global(s, d)

    def _ts(self, t: float) -> int:
        return int(self.job.start_us + round(t * 1e6))

    def _ego_pose(self, t: float) -> str:
        pose = self.world.ego_pose(t)
        token = self.tokens()
        self.tables['ego_pose'].append(dict(
            token=token, timestamp=self._ts(t), rotation=yaw_quaternion(self.world.road_yaw),
            translation=[float(pose[0, 3]), float(pose[1, 3]), 0.0]))
        return token

    def _sample_data(self, sensor: Sensor, t: float, sample_token: str, key: bool, ext: str) -> Tuple[dict, str]:
        """Add a sample_data record (prev/next linked later) and return it and its file path."""
        folder = 'samples' if key else 'sweeps'
        ts = self._ts(t)
        filename = f'{folder}/{sensor.channel}/{self.job.logfile}__{sensor.channel}__{ts}.{ext}'
        record = dict(token=self.tokens(), sample_token=sample_token, ego_pose_token=self._ego_pose(t),
                      calibrated_sensor_token=self.job.calibrated[sensor.channel], timestamp=ts,
                      fileformat=ext.split('.')[0], is_key_frame=key, height=sensor.height, width=sensor.width,
                      filename=filename, prev='', next='')
        self.tables['sample_data'].append(record)
        return record, os.path.join(self.job.root, filename)

    def write(self) -> dict:
        """Simulate and write the scene; returns its table records and its scene record."""
        sample_tokens = [self.tokens() for _ in self.key_times]
        for k, t in enumerate(self.key_times):
            self.tables['sample'].append(dict(
                token=sample_tokens[k], timestamp=self._ts(t), scene_token='',
                prev=sample_tokens[k - 1] if k else '',
                next=sample_tokens[k + 1] if k + 1 < len(sample_tokens) else ''))
        coverage = self._write_cameras(sample_tokens)
        lidar_counts = self._write_lidar(sample_tokens)
        radar_counts = self._write_radars(sample_tokens)
        self._write_annotations(sample_tokens, coverage, lidar_counts, radar_counts)
        scene_token = self.tokens()
        for record in self.tables['sample']:
            record['scene_token'] = scene_token
        scene = dict(token=scene_token, log_token=self.job.log_token, nbr_samples=len(sample_tokens),
                     first_sample_token=sample_tokens[0], last_sample_token=sample_tokens[-1], name=self.job.name,
                     description=f'synthetic {self.job.location} {self.job.split} scene, ego from '
                                 f'{self.world.ego_v0:.1f} m/s, {len(self.world.objects)} objects' +
                                 (f', private site {self.job.site}' if self.job.site else ''))
        return dict(tables=self.tables, scene=scene, road=self.road_polygon())

    def _sensors(self, modality: str) -> List[Sensor]:
        return [s for s in self.rig.values() if s.modality == modality]

    def _write_cameras(self, sample_tokens: List[str]) -> np.ndarray:
        """Render the 6 cameras at every key frame; returns (S, K, 2) covered and visible pixels."""
        num_objects = len(self.world.objects)
        coverage = np.zeros((len(sample_tokens), num_objects, 2), int)
        for sensor in self._sensors('camera'):
            grid = PinholeGrid(sensor.intrinsic, sensor.width, sensor.height)
            prev = None
            for k, t_key in enumerate(self.key_times):
                t = t_key + sensor.time_offset_us * 1e-6
                frame = render_camera(self.world, self.look, sensor, grid, t, self.sensor_rng, self.site)
                record, path = self._sample_data(sensor, t, sample_tokens[k], True, 'jpg')
                Image.fromarray(frame.image).save(path, quality=self.job.config.jpeg_quality)
                coverage[k, :, 0] += frame.covered
                coverage[k, :, 1] += frame.visible
                prev = _link(prev, record)
        return coverage

    def _write_lidar(self, sample_tokens: List[str]) -> np.ndarray:
        """One LIDAR_TOP sweep per key frame; returns (S, K) points in each annotation box."""
        cfg = self.job.config
        sensor = self._sensors('lidar')[0]
        counts = np.zeros((len(sample_tokens), len(self.world.objects)), int)
        grid = lidar_grid(cfg.lidar_beams, cfg.lidar_azimuth_steps)
        prev = None
        for k, t in enumerate(self.key_times):
            points = simulate_lidar(self.world, sensor, grid, t, cfg.max_range, self.sensor_rng)
            record, path = self._sample_data(sensor, t, sample_tokens[k], True, 'pcd.bin')
            write_lidar_bin(path, points)
            lidar2global = self.world.ego_pose(t) @ sensor.sensor2ego
            # count what was written (float32), as the devkit would read it back
            xyz = points[:, :3].astype(np.float64) @ lidar2global[:3, :3].T + lidar2global[:3, 3]
            counts[k] = self._count(xyz, t)
            prev = _link(prev, record)
        return counts

    def _write_radars(self, sample_tokens: List[str]) -> np.ndarray:
        """All radar sweeps (lead sweeps, key frames, sweeps between); returns (S, K) key-frame returns in boxes."""
        cfg = self.job.config
        per = cfg.radar_sweeps_per_interval
        counts = np.zeros((len(sample_tokens), len(self.world.objects)), int)
        last_key = (len(sample_tokens) - 1) * per
        for sensor in self._sensors('radar'):
            prev = None
            for j in range(-cfg.radar_lead_sweeps, last_key + 1):
                key = j >= 0 and j % per == 0
                jitter = 0.0 if key else self.sensor_rng.uniform(-0.004, 0.004)
                t = j * KEY_INTERVAL_S / per + sensor.time_offset_us * 1e-6 + jitter
                k = min(max(-(-j // per), 0), len(sample_tokens) - 1)  # the key frame at or after this sweep
                points, _ = simulate_radar(self.world, sensor, t, cfg.max_range, cfg.radar_return_scale,
                                           cfg.radar_clutter_rate, self.sensor_rng)
                record, path = self._sample_data(sensor, t, sample_tokens[k], key, 'pcd')
                write_radar_pcd(path, points)
                if key:
                    sensor2global = self.world.ego_pose(t) @ sensor.sensor2ego
                    written = points[:, :3].astype(np.float32).astype(np.float64)
                    counts[k] += self._count(radar_to_global(written, sensor2global), self.key_times[k])
                prev = _link(prev, record)
        return counts

    def _count(self, xyz: np.ndarray, t: float) -> np.ndarray:
        centers, yaws, sizes, _ = self.world.boxes(t)
        return count_points_in_boxes(xyz, centers, yaws, sizes)

    def _write_annotations(self, sample_tokens: List[str], coverage: np.ndarray, lidar_counts: np.ndarray,
                           radar_counts: np.ndarray) -> None:
        """sample_annotation and instance records: every object at every key frame."""
        objects = self.world.objects
        tokens = [[self.tokens() for _ in objects] for _ in sample_tokens]
        for k, t in enumerate(self.key_times):
            centers, yaws, sizes, _ = self.world.boxes(t)
            for i, obj in enumerate(objects):
                self.tables['sample_annotation'].append(dict(
                    token=tokens[k][i], sample_token=sample_tokens[k], instance_token='',
                    visibility_token=_visibility_token(*coverage[k, i]),
                    attribute_tokens=[self.job.attribute_tokens[obj.attribute]] if obj.attribute else [],
                    translation=[float(v) for v in centers[i]],
                    size=[float(sizes[i, 1]), float(sizes[i, 0]), float(sizes[i, 2])],  # nuScenes: w, l, h
                    rotation=yaw_quaternion(yaws[i]),
                    prev=tokens[k - 1][i] if k else '',
                    next=tokens[k + 1][i] if k + 1 < len(sample_tokens) else '',
                    num_lidar_pts=int(lidar_counts[k, i]), num_radar_pts=int(radar_counts[k, i])))
        annotations = self.tables['sample_annotation']
        for i, obj in enumerate(objects):
            token = self.tokens()
            for k in range(len(sample_tokens)):
                annotations[k * len(objects) + i]['instance_token'] = token
            self.tables['instance'].append(dict(
                token=token, category_token=self.job.category_tokens[OBJECT_CLASSES[obj.label].category],
                nbr_annotations=len(sample_tokens), first_annotation_token=tokens[0][i],
                last_annotation_token=tokens[-1][i]))


def _link(prev: dict, record: dict) -> dict:
    """Chain two consecutive sample_data records of one sensor."""
    if prev is not None:
        prev['next'] = record['token']
        record['prev'] = prev['token']
    return record


def write_scene(job: SceneJob) -> dict:
    """Write one scene (a top-level function so a process pool can run it)."""
    return SceneWriter(job).write()
