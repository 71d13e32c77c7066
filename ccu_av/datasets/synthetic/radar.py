"""Radar simulation as nuScenes radar really is (Continental ARS 408-like), and its ``.pcd`` files.

Deliberately not easy: a few returns per object and sweep (Poisson, more for large and near
objects, fewer when occluded), many small or distant objects with none, about 0.5-1 m position
noise, z = 0 in the sensor frame (no height), RCS spread widely with the classes overlapping,
Doppler velocity radial only, clutter and multipath ghosts with object-like RCS, and a share of
returns that the devkit's default filters (invalid_state, dyn_prop, ambig_state) drop.
Written here because no library simulates radar returns. Letters: K objects, N returns.
"""
from typing import Tuple

import numpy as np

from .geometry import ray_box_distances
from .rig import RADAR_HALF_FOV_DEG, Sensor
from .taxonomy import OBJECT_CLASSES
from .world import SceneWorld

FIELDS = ('x', 'y', 'z', 'dyn_prop', 'id', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp', 'is_quality_valid',
          'ambig_state', 'x_rms', 'y_rms', 'invalid_state', 'pdh0', 'vx_rms', 'vy_rms')
_SIZES = (4, 4, 4, 1, 2, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1)
_TYPES = ('F', 'F', 'F', 'I', 'I', 'F', 'F', 'F', 'F', 'F', 'I', 'I', 'I', 'I', 'I', 'I', 'I', 'I')
PCD_DTYPE = np.dtype([(name, {('F', 4): '<f4', ('I', 1): 'i1', ('I', 2): '<i2'}[(t, s)])
                      for name, t, s in zip(FIELDS, _TYPES, _SIZES)])
F = {name: i for i, name in enumerate(FIELDS)}

_RANGE_SIGMA = 0.35  # m
_AZIMUTH_SIGMA = np.deg2rad(1.8)
_XY_SIGMA = 0.25  # m, extra isotropic scatter
_DOPPLER_SIGMA = 0.12  # m/s
_RCS_SPREAD = 4.5  # dB, per return
_OCCLUDED_FACTOR = 0.35
_GHOST_PROB = 0.1
_INVALID_PROB = (0.06, 0.25)  # objects, clutter and ghosts
_INVALID_STATES = (1, 2, 3, 6, 7, 14)


def simulate_radar(world: SceneWorld, sensor: Sensor, t: float, max_range: float, return_scale: float,
                   clutter_rate: float, rng: np.random.Generator) -> Tuple[np.ndarray, np.ndarray]:
    """One radar sweep at time ``t``.

    Returns:
        points: (N, 18) float64 in ``FIELDS`` order, sensor frame (z = 0).
        source: (N,) the object index each return came from; -1 for clutter, -2 for ghosts.
    """
    sensor2global = world.ego_pose(t) @ sensor.sensor2ego
    to_sensor = sensor2global[:2, :2].T
    sensor_vel = to_sensor @ world.ego_velocity(t)[:2]
    # 1. true returns on objects, then multipath ghosts of some of them, then clutter
    xy, obj_vel, rcs, owner = _object_returns(world, sensor2global, t, max_range, return_scale, rng)
    xy, obj_vel, rcs, source = _add_ghosts(rng, xy, obj_vel, rcs, owner, max_range)
    num_clutter = rng.poisson(clutter_rate)
    clutter_xy = _polar(np.sqrt(rng.uniform(1.0, max_range ** 2, num_clutter)),
                        rng.uniform(-1, 1, num_clutter) * np.deg2rad(RADAR_HALF_FOV_DEG))
    xy = np.concatenate([xy, clutter_xy])
    obj_vel = np.concatenate([obj_vel, np.zeros((num_clutter, 2))])
    rcs = np.concatenate([rcs, rng.normal(4.0, 4.0, num_clutter)])
    source = np.concatenate([source, np.full(num_clutter, -1)])
    # 2. measurement noise and states, within range, in random order with cluster ids
    points = _measure(rng, xy, obj_vel, sensor_vel, rcs, source, max_range)
    keep = np.linalg.norm(points[:, :2], axis=1) <= max_range
    points, source = points[keep], source[keep]
    order = rng.permutation(len(points))
    points, source = points[order], source[order]
    points[:, F['id']] = np.arange(len(points))
    return points, source


def _object_returns(world: SceneWorld, sensor2global: np.ndarray, t: float, max_range: float, return_scale: float,
                    rng) -> Tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Poisson returns on the objects in view: (N, 2) positions and velocities in the sensor frame,
    (N,) mean RCS and (N,) object index."""
    origin, to_sensor = sensor2global[:3, 3], sensor2global[:2, :2].T
    centers, yaws, sizes, velocities = world.boxes(t)
    rel = (centers[:, :2] - origin[:2]) @ to_sensor.T  # (K, 2) object centres in the sensor frame
    dist, azimuth = np.linalg.norm(rel, axis=1), np.arctan2(rel[:, 1], rel[:, 0])
    in_view = (dist <= max_range) & (np.abs(azimuth) <= np.deg2rad(RADAR_HALF_FOV_DEG))
    rate = np.array([OBJECT_CLASSES[o.label].radar_rate for o in world.objects]) if world.objects else np.zeros(0)
    lam = return_scale * rate * np.clip(1.25 - 0.9 * dist / max_range, 0.35, 1.25)
    lam = np.where(_occluded(world, t, origin, centers), lam * _OCCLUDED_FACTOR, lam)
    counts = np.where(in_view, rng.poisson(np.where(in_view, lam, 0.0)), 0)
    owner = np.repeat(np.arange(len(counts)), counts)
    xy = (_surface_points(rng, centers[owner], yaws[owner], sizes[owner], origin) - origin[:2]) @ to_sensor.T
    rcs = np.array([OBJECT_CLASSES[world.objects[k].label].rcs_mean + world.objects[k].rcs_offset for k in owner])
    return xy, velocities[owner, :2] @ to_sensor.T, rcs.reshape(-1), owner


def _polar(r: np.ndarray, az: np.ndarray) -> np.ndarray:
    return np.stack([r * np.cos(az), r * np.sin(az)], axis=1)


def _occluded(world: SceneWorld, t: float, origin: np.ndarray, centers: np.ndarray) -> np.ndarray:
    """(K,) whether another object or a building blocks the line of sight to each object's centre."""
    if len(centers) == 0:
        return np.zeros(0, bool)
    parts = world.parts(t)
    target = np.concatenate([centers[:, :2], np.full((len(centers), 1), origin[2])], axis=1)
    dirs = target - origin
    dist = np.linalg.norm(dirs, axis=1)
    t_parts = ray_box_distances(origin, dirs / dist[:, None], parts['centers'], parts['yaws'], parts['half'])
    own = parts['owner'][None, :] == np.arange(len(centers))[:, None]
    blocked = (t_parts < dist[:, None] - 0.5) & ~own
    return blocked.any(axis=1)


def _surface_points(rng, centers: np.ndarray, yaws: np.ndarray, sizes: np.ndarray,
                    origin: np.ndarray) -> np.ndarray:
    """(N, 2) global points on the box sides that face the sensor, one per return."""
    n = len(centers)
    if n == 0:
        return np.zeros((0, 2))
    cos, sin = np.cos(yaws), np.sin(yaws)
    ex, ey = np.stack([cos, sin], 1), np.stack([-sin, cos], 1)  # (N, 2) box axes
    hl, hw = sizes[:, 0:1] / 2, sizes[:, 1:2] / 2
    # the four sides: outward normal, midpoint and half-edge vector
    normals = np.stack([ex, -ex, ey, -ey], 1)  # (N, 4, 2)
    mids = centers[:, None, :2] + normals * np.stack([hl, hl, hw, hw], 1)
    edges = np.stack([ey * hw, ey * hw, ex * hl, ex * hl], 1)
    lengths = 2 * np.linalg.norm(edges, axis=2)
    to_sensor = origin[:2] - mids
    facing = np.maximum((normals * to_sensor).sum(2) / np.linalg.norm(to_sensor, axis=2), 0.0)
    weight = lengths * facing + 1e-9
    cum = np.cumsum(weight / weight.sum(1, keepdims=True), axis=1)
    side = np.minimum((rng.random((n, 1)) > cum).sum(1), 3)
    pick = np.arange(n)
    return mids[pick, side] + edges[pick, side] * rng.uniform(-1, 1, (n, 1))


def _add_ghosts(rng, xy, obj_vel, rcs, owner, max_range):
    """Multipath ghosts: a copy of some returns further out along about the same bearing."""
    ghost = rng.random(len(xy)) < _GHOST_PROB
    r, az = np.linalg.norm(xy[ghost], axis=1), np.arctan2(xy[ghost, 1], xy[ghost, 0])
    ghost_xy = _polar(r * rng.uniform(1.3, 1.9, len(r)), az + rng.normal(0, np.deg2rad(3.0), len(r)))
    inside = np.linalg.norm(ghost_xy, axis=1) <= max_range
    return (np.concatenate([xy, ghost_xy[inside]]),
            np.concatenate([obj_vel, obj_vel[ghost][inside]]),
            np.concatenate([rcs, rcs[ghost][inside] - rng.uniform(0, 6, inside.sum())]),
            np.concatenate([owner, np.full(inside.sum(), -2)]))


def _measure(rng, xy, obj_vel, sensor_vel, rcs, source, max_range) -> np.ndarray:
    """Turn true return positions and velocities into noisy ARS-408-like measurements."""
    n = len(xy)
    r = np.linalg.norm(xy, axis=1) + rng.normal(0, _RANGE_SIGMA, n)
    az = np.arctan2(xy[:, 1], xy[:, 0]) + rng.normal(0, _AZIMUTH_SIGMA, n)
    pos = _polar(np.maximum(r, 0.2), az) + rng.normal(0, _XY_SIGMA, (n, 2))
    los = pos / np.linalg.norm(pos, axis=1, keepdims=True)  # Doppler is measured along the reported bearing
    noise = rng.normal(0, _DOPPLER_SIGMA, n)
    v_comp = (los * obj_vel).sum(1) + noise  # radial speed over ground
    v_raw = (los * (obj_vel - sensor_vel)).sum(1) + noise  # radial speed relative to the sensor
    points = np.zeros((n, len(FIELDS)))
    points[:, F['x']], points[:, F['y']] = pos[:, 0], pos[:, 1]
    points[:, F['rcs']] = np.round((rcs + rng.normal(0, _RCS_SPREAD, n)) * 2) / 2
    points[:, [F['vx'], F['vy']]] = los * v_raw[:, None]
    points[:, [F['vx_comp'], F['vy_comp']]] = los * v_comp[:, None]
    points[:, F['dyn_prop']] = _dyn_prop(rng, v_comp)
    points[:, F['is_quality_valid']] = 1
    points[:, F['ambig_state']] = np.where(rng.random(n) < 0.04, rng.choice([1, 4], n), 3)
    invalid_p = np.where(source >= 0, _INVALID_PROB[0], _INVALID_PROB[1])
    points[:, F['invalid_state']] = np.where(rng.random(n) < invalid_p, rng.choice(_INVALID_STATES, n), 0)
    points[:, F['x_rms']] = np.clip(np.round(4 + 12 * np.abs(pos[:, 0]) / max_range + rng.normal(0, 1, n)), 0, 31)
    points[:, F['y_rms']] = np.clip(np.round(4 + 12 * np.abs(pos[:, 1]) / max_range + rng.normal(0, 1, n)), 0, 31)
    points[:, F['pdh0']] = np.where(rng.random(n) < np.where(source >= 0, 0.9, 0.7), 1, rng.integers(2, 5, n))
    points[:, F['vx_rms']] = np.clip(np.round(rng.normal(4, 1.5, n)), 0, 31)
    points[:, F['vy_rms']] = np.clip(np.round(rng.normal(4, 1.5, n)), 0, 31)
    return points


def _dyn_prop(rng, v_comp: np.ndarray) -> np.ndarray:
    """ARS-408 dynamic property from the compensated radial speed (0 moving, 1 stationary, 2 oncoming,
    3 stationary candidate, 5/6 crossing stationary/moving, 7 stopped)."""
    n = len(v_comp)
    moving = np.abs(v_comp) > 0.4
    dyn = np.where(moving, np.where(v_comp < 0, 2, 0), np.where(rng.random(n) < 0.25, 3, 1))
    crossing = rng.random(n) < 0.05
    dyn = np.where(crossing, np.where(moving, 6, 5), dyn)
    return np.where(rng.random(n) < 0.03, 7, dyn)


def write_radar_pcd(path: str, points: np.ndarray) -> None:
    """Write (N, 18) radar points as a nuScenes binary ``.pcd``.

    An empty sweep is written as one all-NaN point, as nuScenes does, and the payload gets one
    trailing byte: the devkit's reader needs it longer than 43 bytes per point.
    """
    if len(points) == 0:
        points = np.full((1, len(FIELDS)), np.nan)
        points[:, 3:5] = 0
        points[:, 10:] = 0
    record = np.zeros(len(points), PCD_DTYPE)
    for i, name in enumerate(FIELDS):
        record[name] = points[:, i]
    header = '\n'.join([
        '# .PCD v0.7 - Point Cloud Data file format',
        'VERSION 0.7',
        'FIELDS ' + ' '.join(FIELDS),
        'SIZE ' + ' '.join(map(str, _SIZES)),
        'TYPE ' + ' '.join(_TYPES),
        'COUNT ' + ' '.join(['1'] * len(FIELDS)),
        f'WIDTH {len(points)}',
        'HEIGHT 1',
        'VIEWPOINT 0 0 0 1 0 0 0',
        f'POINTS {len(points)}',
        'DATA binary',
    ]) + '\n'
    with open(path, 'wb') as f:
        f.write(header.encode('ascii'))
        f.write(record.tobytes())
        f.write(b'\n')


def radar_to_global(points: np.ndarray, sensor2global: np.ndarray) -> np.ndarray:
    """(N, 3) global positions of radar points given their sensor-to-global transform."""
    return points[:, :3] @ sensor2global[:3, :3].T + sensor2global[:3, 3]
