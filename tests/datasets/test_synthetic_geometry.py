"""The synthetic writer's ray caster against plain reference versions, and its point-in-box count
against the devkit's ``points_in_box``."""
import numpy as np
import pytest
from nuscenes.utils.data_classes import Box
from nuscenes.utils.geometry_utils import points_in_box
from pyquaternion import Quaternion

from ccu_av.datasets.synthetic.geometry import ray_box_distances, ray_plane_z
from ccu_av.datasets.synthetic.scene_cast import PinholeGrid, SphericalGrid, cast_grid
from ccu_av.datasets.synthetic.scene_writer import count_points_in_boxes


def _reference_distance(origin, direction, center, yaw, half):
    """One ray, one box, the textbook slab method with explicit branches."""
    c, s = np.cos(yaw), np.sin(yaw)
    rot_inv = np.array([[c, s, 0], [-s, c, 0], [0, 0, 1]])
    o, d = rot_inv @ (origin - center), rot_inv @ direction
    t_near, t_far = -np.inf, np.inf
    for axis in range(3):
        if abs(d[axis]) < 1e-12:
            if abs(o[axis]) > half[axis]:
                return np.inf
            continue
        t1, t2 = (-half[axis] - o[axis]) / d[axis], (half[axis] - o[axis]) / d[axis]
        t_near, t_far = max(t_near, min(t1, t2)), min(t_far, max(t1, t2))
    if t_near > t_far or t_near <= 1e-6:
        return np.inf
    return t_near


def _random_boxes(rng, k):
    centers = rng.uniform(-10, 10, (k, 3))
    centers[:, 2] = rng.uniform(0.5, 2, k)
    return centers, rng.uniform(-np.pi, np.pi, k), rng.uniform(0.2, 3, (k, 3))


def test_ray_box_distances_match_reference():
    rng = np.random.default_rng(0)
    centers, yaws, half = _random_boxes(rng, 12)
    origin = np.array([0.3, -0.2, 1.5])
    dirs = rng.normal(size=(300, 3))
    dirs[:20, 2] = 0.0  # rays parallel to the z slabs
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    fast = ray_box_distances(origin, dirs, centers, yaws, half)
    slow = np.array([[_reference_distance(origin, d, c, y, h) for c, y, h in zip(centers, yaws, half)] for d in dirs])
    assert fast.shape == (300, 12)
    assert np.array_equal(np.isfinite(fast), np.isfinite(slow))
    assert np.isfinite(fast).sum() > 30  # the test exercises hits, not only misses
    np.testing.assert_allclose(fast[np.isfinite(fast)], slow[np.isfinite(slow)], rtol=1e-4, atol=1e-4)


def test_ray_starting_inside_a_box_does_not_hit_it():
    t = ray_box_distances(np.zeros(3), np.array([[1.0, 0, 0]]), np.zeros((1, 3)), np.zeros(1), np.ones((1, 3)))
    assert np.isinf(t[0, 0])


def test_ray_plane_z():
    dirs = np.array([[1.0, 0, -1.0], [1.0, 0, 1.0], [1.0, 0, 0]])
    t = ray_plane_z(np.array([0, 0, 2.0]), dirs)
    assert t[0] == pytest.approx(2.0) and np.isinf(t[1]) and np.isinf(t[2])


def _parts(rng, k):
    centers, yaws, half = _random_boxes(rng, k)
    return dict(centers=centers, yaws=yaws, half=half, owner=np.arange(k) % 4)


@pytest.mark.parametrize('kind', ['pinhole', 'spherical'])
def test_grid_caster_equals_brute_force(kind):
    """The z-buffer over footprints gives the same nearest hit as testing every ray against every part."""
    rng = np.random.default_rng(1)
    parts = _parts(rng, 25)
    if kind == 'pinhole':
        intrinsic = np.array([[40.0, 0, 32], [0, 40.0, 18], [0, 0, 1]])
        grid = PinholeGrid(intrinsic, 64, 36)
        # looking along +x from 1.5 m height: optical z -> global x
        rotation = np.array([[0, 0, 1.0], [-1.0, 0, 0], [0, -1.0, 0]])
    else:
        grid = SphericalGrid(np.deg2rad(np.linspace(-30, 10, 16)), 180)
        rotation = np.eye(3)
    pose = np.eye(4)
    pose[:3, :3], pose[:3, 3] = rotation, [-12.0, 0.5, 1.5]
    hits = cast_grid(parts, grid, pose, max_dist=100.0, num_objects=4)
    dirs = (grid.dirs @ rotation.T).reshape(-1, 3)
    brute = ray_box_distances(pose[:3, 3], dirs, parts['centers'], parts['yaws'], parts['half'])
    t_ground = ray_plane_z(pose[:3, 3], dirs)
    nearest = np.minimum(brute.min(1), t_ground)
    assert np.isfinite(brute).any(1).sum() > 50
    np.testing.assert_allclose(hits.t.ravel(), nearest, rtol=1e-5)
    on_part = brute.min(1) < t_ground
    assert np.array_equal(hits.part.ravel() >= 0, on_part)
    assert np.array_equal(hits.part.ravel()[on_part], brute.argmin(1)[on_part])
    covered = [np.isfinite(brute[:, parts['owner'] == k]).any(1).sum() for k in range(4)]
    assert hits.covered.tolist() == covered


def test_point_count_matches_devkit_points_in_box():
    rng = np.random.default_rng(2)
    centers, yaws, half = _random_boxes(rng, 6)
    points = rng.uniform(-12, 12, (4000, 3))
    points[:, 2] = rng.uniform(0, 3, 4000)
    counts = count_points_in_boxes(points, centers, yaws, 2 * half)
    for k in range(6):
        wlh = [2 * half[k, 1], 2 * half[k, 0], 2 * half[k, 2]]
        box = Box(centers[k], wlh, Quaternion(axis=[0, 0, 1], angle=yaws[k]))
        assert counts[k] == points_in_box(box, points.T).sum()
    assert counts.sum() > 0
