"""LIDAR_TOP simulation (HDL-32E-like beams ray cast against the scene) and its ``.pcd.bin`` files.

Points are (x, y, z, intensity, ring) float32 in the LIDAR_TOP frame, as nuScenes writes them.
"""
import numpy as np

from .rig import LIDAR_ELEVATION_DEG, Sensor
from .scene_cast import SphericalGrid, cast_grid
from .taxonomy import OBJECT_CLASSES, ROLE_INDEX
from .world import ROAD_HALF_WIDTH, SIDEWALK_OUTER, SceneWorld

_RANGE_NOISE = 0.02
# intensity factor of each part role (windows are dark, lamps and reflectors bright)
_ROLE_INTENSITY = {'primary': 1.0, 'secondary': 0.8, 'window': 0.2, 'dark': 0.4, 'rider': 0.6, 'light': 2.5,
                   'building': 0.7}
_GROUND_INTENSITY = (6.0, 25.0, 15.0)  # road, sidewalk, verge


def lidar_grid(beams: int, azimuth_steps: int) -> SphericalGrid:
    """The LIDAR_TOP ray grid: ``beams`` HDL-32E-like elevations x ``azimuth_steps``."""
    return SphericalGrid(np.deg2rad(np.linspace(*LIDAR_ELEVATION_DEG, beams)), azimuth_steps)


def simulate_lidar(world: SceneWorld, sensor: Sensor, grid: SphericalGrid, t: float, max_range: float,
                   rng: np.random.Generator) -> np.ndarray:
    """One LIDAR_TOP sweep at time ``t``: (P, 5) float32 points within ``max_range``, ring-major."""
    lidar2global = world.ego_pose(t) @ sensor.sensor2ego
    parts = world.parts(t)
    hits = cast_grid(parts, grid, lidar2global, max_range)
    rays = grid.dirs.reshape(-1, 3)
    t_hit, part, ground = hits.t.ravel(), hits.part.ravel(), hits.ground.ravel()
    dist = t_hit + rng.normal(0.0, _RANGE_NOISE, len(rays))
    valid = np.isfinite(t_hit) & (dist <= max_range) & (dist > 0.5)
    dist = np.where(valid, dist, 0.0)
    global_dirs = rays @ lidar2global[:3, :3].T
    intensity = _intensity(world, parts, part, ground, lidar2global[:3, 3] + global_dirs * dist[:, None])
    intensity = np.clip(intensity * (1 + rng.normal(0.0, 0.1, len(rays))), 0, 255)
    ring = np.repeat(np.arange(grid.shape[0]), grid.shape[1])
    points = np.concatenate([rays * dist[:, None], intensity[:, None], ring[:, None]], axis=1)[valid]
    return points.astype(np.float32)


def _intensity(world: SceneWorld, parts: dict, part: np.ndarray, ground: np.ndarray,
               points: np.ndarray) -> np.ndarray:
    """Mean intensity of the surface each ray hit (``points`` are the global hit points)."""
    intensity = np.zeros(len(part))
    on_part = part >= 0
    owner, role = parts['owner'][part[on_part]], parts['role'][part[on_part]]
    base = np.array([OBJECT_CLASSES[o.label].lidar_intensity for o in world.objects] + [30.0])[owner]
    role_factor = np.array([_ROLE_INTENSITY[name] for name in sorted(ROLE_INDEX, key=ROLE_INDEX.get)])[role]
    intensity[on_part] = base * role_factor
    _, d = world.global_to_road(points[ground, :2]).T
    a = np.abs(d)
    intensity[ground] = np.select([a < ROAD_HALF_WIDTH, a < SIDEWALK_OUTER], _GROUND_INTENSITY[:2],
                                  _GROUND_INTENSITY[2])
    return intensity


def write_lidar_bin(path: str, points: np.ndarray) -> None:
    """Write (P, 5) points as nuScenes ``.pcd.bin`` (float32, row-major)."""
    np.ascontiguousarray(points, dtype=np.float32).tofile(path)
