"""The synthetic world (placement, motion, shapes), camera rendering and the locations' looks."""
import numpy as np
import pytest

from ccu_av.datasets.synthetic import NUSCENES_LOCATIONS, SyntheticNuScenesConfig
from ccu_av.datasets.synthetic.appearance import location_look
from ccu_av.datasets.synthetic.camera import render_camera
from ccu_av.datasets.synthetic.rig import build_rig
from ccu_av.datasets.synthetic.scene_cast import PinholeGrid
from ccu_av.datasets.synthetic.scene_writer import _visibility_token
from ccu_av.datasets.synthetic.taxonomy import CLASS_INDEX, OBJECT_CLASSES
from ccu_av.datasets.synthetic.world import EGO_LANE, Buildings, SceneWorld, _obb_overlap, make_object, sample_world

TIMES = np.linspace(-1.0, 5.0, 25)


@pytest.fixture(scope='module')
def worlds():
    rng = np.random.default_rng(7)
    return [sample_world(rng, np.array([200.0, 200.0]), rng.uniform(-np.pi, np.pi), TIMES, 40) for _ in range(5)]


def test_objects_never_overlap_each_other_or_the_ego(worlds):
    for world in worlds:
        assert len(world.objects) >= 30
        for t in TIMES:
            centers, yaws, sizes, _ = world.boxes(t)
            ego = world.ego_pose(t)
            # the ego body: 4.8 m long from 1 m behind the rear axle
            ego_center = ego[:2, 3] + ego[:2, 0] * 1.4
            c = np.concatenate([centers[:, :2], ego_center[None]])
            y = np.concatenate([yaws, [world.road_yaw]])
            h = np.concatenate([sizes[:, :2] / 2, [[2.4, 1.0]]])
            overlap = _obb_overlap(c[:, None], y[:, None], h[:, None], c[None], y[None], h[None])
            np.fill_diagonal(overlap, False)
            assert not overlap.any(), t


def test_every_class_appears_with_plausible_size(worlds):
    seen = {}
    for world in worlds:
        for obj in world.objects:
            seen.setdefault(OBJECT_CLASSES[obj.label].name, []).append(obj.size)
    assert set(seen) == {c.name for c in OBJECT_CLASSES}
    for spec in OBJECT_CLASSES:
        sizes = np.array(seen[spec.name])
        assert np.all(sizes > 0.2 * np.array(spec.size_mean))
        assert np.all(sizes[:, :2] < np.array(spec.size_mean[:2]) + 5 * np.array(spec.size_std[:2]))


def test_parts_stay_inside_their_annotation_box(worlds):
    for world in worlds[:2]:
        for obj in world.objects:
            lo = obj.parts[:, :3] - obj.parts[:, 3:] / 2
            hi = obj.parts[:, :3] + obj.parts[:, 3:] / 2
            half = obj.size / 2
            assert np.all(lo[:, :2] >= -half[:2] - 1e-9) and np.all(hi[:, :2] <= half[:2] + 1e-9)
            assert np.all(lo[:, 2] >= -1e-9) and np.all(hi[:, 2] <= obj.size[2] + 1e-9)


def test_motion_is_linear_and_ego_keeps_its_lane(worlds):
    world = worlds[0]
    c0, _, _, v = world.boxes(0.0)
    c1, _, _, _ = world.boxes(1.5)
    np.testing.assert_allclose(c1 - c0, 1.5 * v, atol=1e-9)
    for t in TIMES:
        s, d = world.global_to_road(world.ego_pose(t)[:2, 3])
        assert d == pytest.approx(EGO_LANE) and s == pytest.approx(world.ego_s(t))
        assert world.ego_velocity(t) @ np.array([np.cos(world.road_yaw), np.sin(world.road_yaw), 0]) >= -1e-9


def _two_car_world():
    """A bus 12 m ahead of the ego's front camera hiding a car behind it, and a car behind the ego."""
    bus, car = CLASS_INDEX['bus'], CLASS_INDEX['car']
    objects = [make_object(bus, [11.0, 2.9, 3.5], 14.0, EGO_LANE, 0.0),
               make_object(car, [4.5, 1.9, 1.6], 26.0, EGO_LANE, 0.0),
               make_object(car, [4.5, 1.9, 1.6], -12.0, EGO_LANE, 0.0)]
    buildings = Buildings(np.zeros(0), np.zeros(0), np.zeros((0, 3)), np.zeros(0, int))
    return SceneWorld(np.array([100.0, 100.0]), 0.3, 0.0, 0.0, objects, buildings)


def test_camera_occlusion_and_visibility_levels():
    world = _two_car_world()
    sensor = build_rig(176, 96)['CAM_FRONT']
    grid = PinholeGrid(sensor.intrinsic, sensor.width, sensor.height)
    frame = render_camera(world, location_look(NUSCENES_LOCATIONS[0]), sensor, grid, 0.0, np.random.default_rng(0))
    assert frame.image.shape == (96, 176, 3) and frame.image.dtype == np.uint8
    assert frame.covered[0] > 200 and frame.visible[0] == frame.covered[0]  # the bus, in full view
    assert frame.covered[1] > 0 and frame.visible[1] == 0  # the car hidden behind it
    assert frame.covered[2] == 0  # behind the camera
    assert _visibility_token(frame.covered[0], frame.visible[0]) == '4'
    assert _visibility_token(frame.covered[1], frame.visible[1]) == '1'
    assert _visibility_token(0, 0) == '1' and _visibility_token(10, 5) == '2'
    # the centre pixel looks along the optical axis at the bus's rear: 14 m - 11 m * 0.97 / 2 - 1.70 m
    assert frame.depth[48, 88] == pytest.approx(14.0 - 11.0 * 0.97 / 2 - 1.70, abs=0.02)
    assert np.isinf(frame.depth[0, 0])  # sky


def test_locations_look_different_and_deterministic():
    looks = {loc: location_look(loc) for loc in NUSCENES_LOCATIONS}
    assert np.array_equal(location_look('boston-seaport').class_colours, looks['boston-seaport'].class_colours)
    world = _two_car_world()
    sensor = build_rig(176, 96)['CAM_FRONT']
    grid = PinholeGrid(sensor.intrinsic, sensor.width, sensor.height)
    images = {loc: render_camera(world, look, sensor, grid, 0.0, np.random.default_rng(0)).image.astype(float)
              for loc, look in looks.items()}
    for i, a in enumerate(NUSCENES_LOCATIONS):
        for b in NUSCENES_LOCATIONS[i + 1:]:
            assert np.abs(images[a] - images[b]).mean() > 15, (a, b)
            # each class's colours differ between locations
            gap = np.linalg.norm(looks[a].class_colours.mean(1) - looks[b].class_colours.mean(1), axis=1)
            assert gap.min() > 0.05, (a, b)


def test_config_rejects_bad_values():
    with pytest.raises(ValueError, match='samples_per_scene'):
        SyntheticNuScenesConfig(samples_per_scene=1)
    with pytest.raises(ValueError, match='takedown_location'):
        SyntheticNuScenesConfig(locations=('boston-seaport',))
    with pytest.raises(ValueError, match='version'):
        SyntheticNuScenesConfig(version='v1.0-trainval')
    with pytest.raises(ValueError, match='max_range'):
        SyntheticNuScenesConfig(max_range=1.0)
