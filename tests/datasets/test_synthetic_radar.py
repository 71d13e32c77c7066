"""Radar of the synthetic writer: nuScenes-like sparsity, noise, radial Doppler, and its .pcd files."""
import numpy as np
import pytest
from nuscenes.utils.data_classes import RadarPointCloud

from ccu_av.datasets.synthetic.radar import FIELDS, radar_to_global, simulate_radar, write_radar_pcd
from ccu_av.datasets.synthetic.rig import build_rig
from ccu_av.datasets.synthetic.taxonomy import OBJECT_CLASSES
from ccu_av.datasets.synthetic.world import sample_world

F = {name: i for i, name in enumerate(FIELDS)}
ALL_STATES = dict(invalid_states=list(range(18)), dynprop_states=list(range(8)), ambig_states=list(range(5)))
SMALL = {'pedestrian', 'traffic_cone', 'bicycle'}
LARGE = {'truck', 'bus', 'trailer', 'construction_vehicle'}


def _random_points(rng, n):
    points = np.zeros((n, len(FIELDS)))
    points[:, :2] = rng.uniform(-30, 30, (n, 2))
    points[:, [F['rcs'], F['vx'], F['vy'], F['vx_comp'], F['vy_comp']]] = rng.normal(0, 5, (n, 5))
    points[:, F['dyn_prop']] = rng.integers(0, 8, n)
    points[:, F['id']] = np.arange(n)
    points[:, F['is_quality_valid']] = 1
    points[:, F['ambig_state']] = rng.choice([1, 3, 4], n)
    points[:, F['invalid_state']] = rng.choice([0, 0, 0, 1, 7], n)
    for name in ('x_rms', 'y_rms', 'pdh0', 'vx_rms', 'vy_rms'):
        points[:, F[name]] = rng.integers(0, 20, n)
    return points


def test_pcd_round_trip_through_devkit(tmp_path):
    rng = np.random.default_rng(0)
    points = _random_points(rng, 50)
    path = str(tmp_path / 'sweep.pcd')
    write_radar_pcd(path, points)
    loaded = RadarPointCloud.from_file(path, **ALL_STATES).points.T
    assert loaded.shape == (50, 18)
    np.testing.assert_array_equal(loaded, points.astype(np.float32).astype(np.float64))
    keep = (points[:, F['invalid_state']] == 0) & (points[:, F['dyn_prop']] < 7) & (points[:, F['ambig_state']] == 3)
    default = RadarPointCloud.from_file(path).points.T
    np.testing.assert_array_equal(default, loaded[keep])
    with open(path, 'rb') as f:
        payload = f.read().split(b'DATA binary\n')[1]
    assert len(payload) == 43 * 50 + 1


def test_empty_sweep_loads_as_no_points(tmp_path):
    path = str(tmp_path / 'empty.pcd')
    write_radar_pcd(path, np.zeros((0, 18)))
    assert RadarPointCloud.from_file(path, **ALL_STATES).nbr_points() == 0


@pytest.fixture(scope='module')
def sweeps():
    """Many sweeps of every radar over sampled worlds: (class, distance, returns) per object and sweep, the
    sweeps' (points, source), and each object return's distance to its object's box footprint."""
    rng = np.random.default_rng(3)
    rig = build_rig(64, 36)
    radars = [s for s in rig.values() if s.modality == 'radar']
    times = np.linspace(-1.0, 5.0, 20)
    records, points_all, offsets = [], [], []
    for scene in range(6):
        world = sample_world(rng, np.array([200.0, 200.0]), rng.uniform(-np.pi, np.pi), times, 35)
        for t in np.arange(0.0, 4.5, 1 / 6):
            centers, yaws, sizes, _ = world.boxes(t)
            ego = world.ego_pose(t)[:2, 3]
            counts = np.zeros(len(world.objects), int)
            for sensor in radars:
                points, source = simulate_radar(world, sensor, t, 25.0, 1.0, 8.0, rng)
                counts += np.bincount(source[source >= 0], minlength=len(world.objects))
                points_all.append((points, source))
                xy = radar_to_global(points, world.ego_pose(t) @ sensor.sensor2ego)[source >= 0, :2]
                k = source[source >= 0]
                rel = xy - centers[k, :2]
                cos, sin = np.cos(yaws[k]), np.sin(yaws[k])
                local = np.stack([cos * rel[:, 0] + sin * rel[:, 1], -sin * rel[:, 0] + cos * rel[:, 1]], 1)
                offsets.append(np.linalg.norm(np.maximum(np.abs(local) - sizes[k, :2] / 2, 0), axis=1))
            dist = np.linalg.norm(centers[:, :2] - ego, axis=1)
            records += [(OBJECT_CLASSES[o.label].name, d, c) for o, d, c in zip(world.objects, dist, counts)]
    return records, points_all, np.concatenate(offsets)


def test_returns_are_sparse_and_size_dependent(sweeps):
    records, _, _ = sweeps
    near = [(name, c) for name, d, c in records if d < 20.0]
    counts = np.array([c for _, c in near])
    assert np.median(counts) <= 1  # a handful at most per object and sweep, over all 5 radars
    small = np.array([c for name, c in near if name in SMALL])
    large = np.array([c for name, c in near if name in LARGE])
    assert (small == 0).mean() > 0.6  # most small objects have no return in a sweep
    assert large.mean() > 3 * small.mean()
    far = np.array([c for _, d, c in records if d > 30.0])
    assert far.sum() == 0  # beyond the radar range


def test_six_sweeps_give_large_objects_several_returns(sweeps):
    records, _, _ = sweeps
    large = np.array([c for name, d, c in records if name in LARGE and d < 20.0])
    # about 6 sweeps (1 s) of accumulation: expected returns per large object
    assert 6 * large.mean() >= 3.0


def test_doppler_is_radial_and_positions_have_no_height(sweeps):
    _, points_all, _ = sweeps
    points = np.concatenate([p for p, _ in points_all])
    xy = points[:, :2]
    for vx, vy in (('vx', 'vy'), ('vx_comp', 'vy_comp')):
        v = points[:, [F[vx], F[vy]]]
        cross = xy[:, 0] * v[:, 1] - xy[:, 1] * v[:, 0]
        np.testing.assert_allclose(cross, 0.0, atol=1e-6 * (1 + np.abs(xy).max() * np.abs(v).max()))
    assert np.all(points[:, F['z']] == 0)
    assert np.all(np.linalg.norm(xy, axis=1) <= 25.0)


def test_rcs_overlaps_between_classes_and_clutter_looks_like_objects(sweeps):
    _, points_all, _ = sweeps
    points = np.concatenate([p for p, _ in points_all])
    source = np.concatenate([s for _, s in points_all])
    rcs = points[:, F['rcs']]
    objects, clutter = rcs[source >= 0], rcs[source == -1]
    assert objects.std() > 5.0 and len(clutter) > 100
    # the middle half of clutter RCS lies inside the objects' RCS range
    lo, hi = np.percentile(objects, [10, 90])
    assert lo < np.percentile(clutter, 25) and np.percentile(clutter, 75) < hi
    assert (source == -2).sum() > 0  # ghosts


def test_some_returns_are_dropped_by_devkit_default_filters(sweeps):
    _, points_all, _ = sweeps
    points = np.concatenate([p for p, _ in points_all])
    kept = (points[:, F['invalid_state']] == 0) & (points[:, F['dyn_prop']] < 7) & (points[:, F['ambig_state']] == 3)
    assert 0.6 < kept.mean() < 0.97
    assert np.all(points[kept, F['is_quality_valid']] == 1)


def test_positions_are_noisy_by_about_half_a_metre(sweeps):
    _, _, offsets = sweeps
    # distance of object returns outside their box footprint (0 inside it)
    assert len(offsets) > 500
    assert 0.1 < np.median(offsets) < 1.0
    assert 0.5 < np.percentile(offsets, 90) < 2.5
