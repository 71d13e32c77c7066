"""Ray casting a scene (parts, buildings, ground plane) for sensors whose rays form a grid.

A z-buffer over the sensor's ray grid: each part is tested only against the rays inside its
footprint on the grid (its projected bounding rectangle), so a frame costs about the pixels the
parts cover rather than pixels x parts. Cameras use a pinhole grid, LIDAR_TOP a spherical one.
Letters: H, W grid rows and columns, P parts, K objects.
"""
from dataclasses import dataclass
from typing import Optional, Tuple

import numpy as np

from .geometry import ray_box_distances, ray_plane_z

class PinholeGrid:
    """One ray per pixel centre of a camera, in the optical frame (x right, y down, z forward)."""

    def __init__(self, intrinsic: np.ndarray, width: int, height: int):
        self.intrinsic, self.shape = intrinsic, (height, width)
        u, v = np.meshgrid(np.arange(width) + 0.5, np.arange(height) + 0.5)
        rays = np.stack([u, v, np.ones_like(u)], axis=-1) @ np.linalg.inv(intrinsic).T
        self.dirs = rays / np.linalg.norm(rays, axis=-1, keepdims=True)  # (H, W, 3)

    def footprints(self, corners: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Grid rectangles whose rays may hit convex parts with (P, 8, 3) corners in the sensor frame.

        Returns:
            valid (P,) and row start, row end, column start, column end (P,) each, ends exclusive.
        """
        height, width = self.shape
        z = corners[..., 2]
        front = z > 0.05
        uv = corners[..., :2] / np.where(front, z, 1.0)[..., None] * np.diag(self.intrinsic)[:2] + \
            self.intrinsic[:2, 2]
        lo = np.maximum(np.ceil(uv.min(1) - 0.5), 0).astype(int)
        hi = np.minimum(np.floor(uv.max(1) - 0.5) + 1, [width, height]).astype(int)
        # a part straddling the image plane may cover any pixel
        straddle = front.any(1) & ~front.all(1)
        lo[straddle], hi[straddle] = 0, [width, height]
        valid = front.any(1) & (hi > lo).all(1)
        return valid, lo[:, 1], hi[:, 1], lo[:, 0], hi[:, 0]


class SphericalGrid:
    """A spinning lidar's rays: rows are beams (ascending elevation), columns azimuth steps from +x."""

    def __init__(self, elevations: np.ndarray, azimuth_steps: int):
        self.elevations = np.asarray(elevations, float)
        self.shape = (len(self.elevations), azimuth_steps)
        self.az_step = 2 * np.pi / azimuth_steps
        el, az = np.meshgrid(self.elevations, np.arange(azimuth_steps) * self.az_step, indexing='ij')
        self.dirs = np.stack([np.cos(el) * np.cos(az), np.cos(el) * np.sin(az), np.sin(el)], axis=-1)

    def footprints(self, corners: np.ndarray) -> Tuple[np.ndarray, ...]:
        """Beams and azimuth columns whose rays may hit convex parts with (P, 8, 3) corners in the sensor frame.

        Returns:
            valid (P,) and row start, row end, column start, column end (P,) each, ends exclusive;
            columns may run past the grid's ends (they wrap around).
        """
        rows, cols = self.shape
        xy = corners[..., :2]
        # the nearest distance to the part's footprint bounds the elevation range (elevation can
        # peak between corners, along an edge that passes close to the sensor)
        r_min = _distance_to_box_xy(xy)
        r_max = np.linalg.norm(xy, axis=2).max(1)
        z_lo, z_hi = corners[..., 2].min(1), corners[..., 2].max(1)
        el_hi = np.arctan2(z_hi, np.where(z_hi > 0, r_min, r_max))
        el_lo = np.arctan2(z_lo, np.where(z_lo < 0, r_min, r_max))
        r0 = np.searchsorted(self.elevations, el_lo, side='left')
        r1 = np.searchsorted(self.elevations, el_hi, side='right')
        center = xy.mean(1)
        az_c = np.arctan2(center[:, 1], center[:, 0])
        daz = np.angle(np.exp(1j * (np.arctan2(xy[..., 1], xy[..., 0]) - az_c[:, None])))
        c0 = np.ceil((az_c + daz.min(1)) / self.az_step).astype(int)
        c1 = np.floor((az_c + daz.max(1)) / self.az_step).astype(int) + 1
        inside = r_min < 0.3  # the sensor is (nearly) inside: test every ray
        r0[inside], r1[inside], c0[inside], c1[inside] = 0, rows, 0, cols
        return (r1 > r0) & (c1 > c0), r0, r1, c0, c1


def _distance_to_box_xy(xy: np.ndarray) -> np.ndarray:
    """(P,) 2D distance from the origin to each box footprint (corners 0, 1, 2 of ``part_corners`` span it)."""
    corner, e1, e2 = xy[:, 0], xy[:, 2] - xy[:, 0], xy[:, 1] - xy[:, 0]
    # the origin's coordinates in each rectangle's (e1, e2) frame, clamped to the rectangle
    a = np.clip((-corner * e1).sum(1) / np.maximum((e1 * e1).sum(1), 1e-12), 0, 1)[:, None]
    b = np.clip((-corner * e2).sum(1) / np.maximum((e2 * e2).sum(1), 1e-12), 0, 1)[:, None]
    return np.linalg.norm(corner + a * e1 + b * e2, axis=1)


@dataclass
class GridHits:
    """Nearest hit of every ray of a grid.

    Args:
        t: (H, W) distance to the nearest hit (``inf`` for none).
        part: (H, W) index of the part hit (into the scene's part table), -1 for ground or nothing.
        ground: (H, W) whether the nearest hit is the ground plane.
        covered: (K,) rays that hit each object at all, nearest or not (when asked for).
    """
    t: np.ndarray
    part: np.ndarray
    ground: np.ndarray
    covered: Optional[np.ndarray]


def part_corners(parts: dict, index: np.ndarray) -> np.ndarray:
    """(P, 8, 3) global corners of the parts ``index``, ordered so corners 0, 1, 2 span the footprint."""
    signs = np.array([[sx, sy, sz] for sz in (-1, 1) for sx, sy in ((-1, -1), (-1, 1), (1, -1), (1, 1))], float)
    local = signs[None] * parts['half'][index][:, None, :]
    cos, sin = np.cos(parts['yaws'][index])[:, None], np.sin(parts['yaws'][index])[:, None]
    x = cos * local[..., 0] - sin * local[..., 1]
    y = sin * local[..., 0] + cos * local[..., 1]
    return parts['centers'][index][:, None, :] + np.stack([x, y, local[..., 2]], axis=-1)


def cast_grid(parts: dict, grid, sensor2global: np.ndarray, max_dist: float,
              num_objects: Optional[int] = None) -> GridHits:
    """Cast a sensor's ray grid against the scene's parts and the ground plane z = 0.

    Args:
        parts: the scene's part table at the sensor's time (``SceneWorld.parts``).
        grid: a ``PinholeGrid`` or ``SphericalGrid``.
        sensor2global: 4x4 pose of the sensor.
        max_dist: parts farther than this are skipped.
        num_objects: if given, also count for each object the rays that hit it at all.
    """
    rotation, origin = sensor2global[:3, :3], sensor2global[:3, 3]
    dirs = grid.dirs @ rotation.T  # (H, W, 3) global
    zbuf = np.full(grid.shape, np.inf, dtype=np.float32)
    part = np.full(grid.shape, -1)
    radius = np.linalg.norm(parts['half'], axis=1)
    near = np.flatnonzero(np.linalg.norm(parts['centers'] - origin, axis=1) - radius < max_dist)
    corners = (part_corners(parts, near) - origin) @ rotation  # (P, 8, 3) sensor frame
    masks = {} if num_objects is not None else None
    valid, r0, r1, c0, c1 = grid.footprints(corners)
    width = grid.shape[1]
    for i in np.flatnonzero(valid):
        p = near[i]
        rows = slice(r0[i], r1[i])
        cols = slice(c0[i], c1[i]) if 0 <= c0[i] and c1[i] <= width else np.arange(c0[i], c1[i]) % width
        sub = dirs[rows, cols]  # (h, w, 3)
        t = ray_box_distances(origin, sub.reshape(-1, 3), parts['centers'][p:p + 1], parts['yaws'][p:p + 1],
                              parts['half'][p:p + 1]).reshape(sub.shape[:2])
        closer = t < zbuf[rows, cols]
        zbuf[rows, cols] = np.where(closer, t, zbuf[rows, cols])
        part[rows, cols] = np.where(closer, p, part[rows, cols])
        owner = parts['owner'][p]
        if masks is not None and owner >= 0:
            mask = masks.setdefault(owner, np.zeros(grid.shape, bool))
            mask[rows, cols] |= np.isfinite(t)
    t_ground = ray_plane_z(origin, dirs.reshape(-1, 3)).reshape(grid.shape)
    on_part = zbuf < t_ground
    covered = None
    if masks is not None:
        covered = np.zeros(num_objects, int)
        for k, mask in masks.items():
            covered[k] = mask.sum()
    return GridHits(np.where(on_part, zbuf, t_ground), np.where(on_part, part, -1),
                    ~on_part & np.isfinite(t_ground), covered)
