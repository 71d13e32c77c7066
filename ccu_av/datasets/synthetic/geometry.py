"""Rigid transforms and a vectorised ray caster against yaw-rotated boxes.

Written here because none of mmdet3d, mmcv or the devkit casts rays against boxes: their
box utilities test points in boxes, they do not intersect rays with them.
Letters: R rays, K boxes.
"""
from typing import Tuple

import numpy as np
from pyquaternion import Quaternion

_EPS = 1e-6


def yaw_matrix(yaw: float) -> np.ndarray:
    """3x3 rotation about z by ``yaw`` radians."""
    c, s = np.cos(yaw), np.sin(yaw)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def yaw_quaternion(yaw: float) -> list:
    """nuScenes quaternion ``[w, x, y, z]`` of a rotation about z."""
    return [float(np.cos(yaw / 2)), 0.0, 0.0, float(np.sin(yaw / 2))]


def matrix_quaternion(rotation: np.ndarray) -> list:
    """nuScenes quaternion ``[w, x, y, z]`` of a 3x3 rotation matrix."""
    return [float(v) for v in Quaternion(matrix=rotation, atol=1e-7).elements]


def make_transform(rotation: np.ndarray, translation: np.ndarray) -> np.ndarray:
    """4x4 homogeneous transform from a 3x3 rotation and a translation."""
    out = np.eye(4)
    out[:3, :3] = rotation
    out[:3, 3] = translation
    return out


def apply_transform(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Apply a 4x4 transform to (P, 3) points."""
    return points @ transform[:3, :3].T + transform[:3, 3]


def ray_box_distances(origins: np.ndarray, dirs: np.ndarray, centers: np.ndarray, yaws: np.ndarray,
                      half: np.ndarray) -> np.ndarray:
    """Distance along each ray to each box (slab method), ``inf`` where the ray misses.

    Args:
        origins: (3,) one origin for all rays, or (R, 3).
        dirs: (R, 3) ray directions (any length; the result is in units of that length).
        centers: (K, 3) box centres.
        yaws: (K,) box yaws about z.
        half: (K, 3) half extents along the box's own x, y, z.

    Returns:
        (R, K) float32 entry distance; a ray starting inside a box does not hit it.
    """
    if len(centers) == 0:
        return np.full((len(dirs), 0), np.inf, dtype=np.float32)
    cos, sin = np.cos(yaws).astype(np.float32), np.sin(yaws).astype(np.float32)
    rel = (np.asarray(origins, np.float32)[..., None, :] - centers.astype(np.float32))  # (K, 3) or (R, K, 3)
    d = dirs.astype(np.float32)[:, None, :]  # (R, 1, 3)
    # ray origin and direction in each box's frame: rotate by -yaw
    o_x, o_y = cos * rel[..., 0] + sin * rel[..., 1], -sin * rel[..., 0] + cos * rel[..., 1]
    d_x, d_y = cos * d[..., 0] + sin * d[..., 1], -sin * d[..., 0] + cos * d[..., 1]  # (R, K)
    d_z = np.broadcast_to(d[..., 2], d_x.shape)
    h = half.astype(np.float32)
    t_near, t_far = None, None
    for o, dd, hh in ((o_x, d_x, h[:, 0]), (o_y, d_y, h[:, 1]), (rel[..., 2], d_z, h[:, 2])):
        # a direction parallel to a slab gets a tiny component: its entry and exit are then at
        # -+1e12 (inside the slab) or both on one side (outside), which the test below handles
        inv = 1.0 / np.where(np.abs(dd) < 1e-12, np.float32(1e-12), dd)
        t1, t2 = (-hh - o) * inv, (hh - o) * inv
        lo, hi = np.minimum(t1, t2), np.maximum(t1, t2)
        t_near = lo if t_near is None else np.maximum(t_near, lo)
        t_far = hi if t_far is None else np.minimum(t_far, hi)
    hit = (t_near <= t_far) & (t_near > _EPS)
    return np.where(hit, t_near, np.inf).astype(np.float32)


def hit_local(origins: np.ndarray, dirs: np.ndarray, t: np.ndarray, centers: np.ndarray, yaws: np.ndarray,
              half: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Where rays hit their box, in the box's frame, and which face they hit.

    Args:
        origins: (3,) or (R, 3); dirs: (R, 3); t: (R,) finite hit distances;
        centers, yaws, half: the hit box of each ray, (R, 3), (R,), (R, 3).

    Returns:
        local: (R, 3) hit point in the box frame; face: (R,) int, 0/1/2 for the x/y/z face
        (the axis where the hit lies on the box surface).
    """
    points = np.asarray(origins)[None, :] + dirs * t[:, None] if np.ndim(origins) == 1 \
        else origins + dirs * t[:, None]
    rel = points - centers
    cos, sin = np.cos(yaws), np.sin(yaws)
    local = np.stack([cos * rel[:, 0] + sin * rel[:, 1], -sin * rel[:, 0] + cos * rel[:, 1], rel[:, 2]], axis=1)
    face = np.argmax(np.abs(local) / np.maximum(half, 1e-6), axis=1)
    return local, face


def ray_plane_z(origins: np.ndarray, dirs: np.ndarray, height: float = 0.0) -> np.ndarray:
    """Distance along each ray to the horizontal plane z = height, ``inf`` if it points away."""
    oz = np.asarray(origins)[..., 2]
    with np.errstate(divide='ignore', invalid='ignore'):
        t = (height - oz) / dirs[:, 2]
    return np.where((dirs[:, 2] < 0) & (t > 0), t, np.inf)
