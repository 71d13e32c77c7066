import cv2
import numpy as np
import pytest

from ccu_av.visualization.boxes import CLASS_COLORS
from ccu_av.visualization.colors import BACKGROUND
from ccu_av.visualization.image_io import write_png
from ccu_av.visualization.panels import make_panels
from ccu_av.visualization.scene import load_sample_scene, open_nuscenes
from ccu_av.visualization.scene3d import (HeadlessRenderError, look_from_behind, pinhole_camera,
                                          render_3d, scene_spec)

CAR = CLASS_COLORS[0]


@pytest.fixture(scope='module')
def scene(vis_nuscenes):
    nusc = open_nuscenes(vis_nuscenes['dataroot'], vis_nuscenes['version'])
    return load_sample_scene(nusc, vis_nuscenes['sample_token'])


def test_pinhole_camera_looks_at_the_target():
    eye, lookat, up = np.array([0.0, -30, 20]), np.array([0.0, 10, 0]), np.array([0.0, 0, 1])
    intrinsic, extrinsic = pinhole_camera(eye, lookat, up, 640, 480)
    np.testing.assert_allclose(extrinsic[:3, :3] @ extrinsic[:3, :3].T, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(extrinsic @ np.append(eye, 1), [0, 0, 0, 1], atol=1e-9)
    target = extrinsic @ np.append(lookat, 1)
    pixel = intrinsic @ target[:3] / target[2]
    np.testing.assert_allclose(pixel[:2], [319.5, 239.5], atol=1e-9)
    above = extrinsic @ np.array([0.0, 10, 5, 1])            # a point above the target: image up
    assert (intrinsic @ above[:3] / above[2])[1] < 239.5


def test_view_is_behind_the_ego(scene):
    eye, lookat, _ = look_from_behind(scene)
    # ego forward is lidar +y: the camera stands at negative y, above the ground, looking ahead
    assert eye[1] < 0 < lookat[1] and eye[2] > 10 and abs(eye[0]) < 1e-9


def test_spec_holds_points_boxes_and_segments(scene):
    panels = make_panels(scene.gt, {'model': scene.gt})
    spec = scene_spec(scene, panels, width=320, height=240)
    assert int(spec['num_panels']) == 2
    num_points = len(scene.lidar_xyz) + len(scene.radar.xyz)
    assert spec['p0_points'].shape == (num_points, 3) == spec['p0_point_colors'].shape
    assert spec['p1_box_center'].shape == (2, 3)
    np.testing.assert_allclose(spec['p0_box_center'][0], scene.gt.boxes[0, :3] + [0, 0, 0.8])
    np.testing.assert_allclose(spec['p0_box_color'][0], CAR / 255.0)
    # two heading segments per box, one velocity segment per radar point
    assert spec['p0_segments'].shape == (2 * 2 + len(scene.radar.xyz), 2, 3)


def test_child_builds_coloured_line_sets(scene):
    o3d_child = pytest.importorskip('ccu_av.visualization.o3d_child')
    spec = scene_spec(scene, make_panels(scene.gt, {}), width=320, height=240)
    cloud, lines = o3d_child.build_geometries(spec, 0)
    assert len(cloud.points) == len(spec['p0_points'])
    # 12 edges per box, then the heading and velocity segments
    assert len(lines.lines) == 12 * 2 + len(spec['p0_segments'])
    colors = np.asarray(lines.colors)
    np.testing.assert_allclose(colors[:12], np.tile(CAR / 255.0, (12, 1)))


def test_headless_render_is_drawn_and_reproducible(scene, tmp_path):
    pytest.importorskip('open3d')
    spec = scene_spec(scene, make_panels(scene.gt, {'model': scene.gt}), width=320, height=240)
    first = render_3d(spec)
    assert first.shape == (240, 640, 3) and first.dtype == np.uint8
    for half in (first[:, :320], first[:, 320:]):
        assert (half == CAR).all(axis=-1).sum() > 20                 # the car box, both panels
        assert (half == BACKGROUND).all(axis=-1).mean() > 0.5
    a = write_png(tmp_path / 'a.png', first)
    b = write_png(tmp_path / 'b.png', render_3d(spec))
    assert a.read_bytes() == b.read_bytes()
    np.testing.assert_array_equal(cv2.imread(str(a))[..., ::-1], first)
    assert sorted(p.name for p in tmp_path.iterdir()) == ['a.png', 'b.png']


def test_missing_graphics_driver_is_a_clear_error(scene, monkeypatch, tmp_path):
    pytest.importorskip('open3d')
    # glvnd's EGL with no vendor library behaves as a machine without Mesa's EGL driver
    monkeypatch.setenv('__EGL_VENDOR_LIBRARY_FILENAMES', str(tmp_path / 'none.json'))
    spec = scene_spec(scene, make_panels(scene.gt, {}), width=64, height=48)
    with pytest.raises(HeadlessRenderError, match='libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri'):
        render_3d(spec)
