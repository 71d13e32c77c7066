import numpy as np
import pytest

from ccu_av.visualization.boxes import CLASS_COLORS, CLASS_NAMES, BoxSet
from ccu_av.visualization.colors import (BACKGROUND, LIDAR_COLOR, RADAR_COLORS, box_colors,
                                         radar_colors)
from ccu_av.visualization.draw2d import (TITLE_BAR, BevProjection, draw_bev, draw_camera,
                                         draw_cameras)
from ccu_av.visualization.panels import make_panels
from ccu_av.visualization.scene import load_sample_scene, open_nuscenes

CAR = CLASS_COLORS[CLASS_NAMES.index('car')]
PEDESTRIAN = CLASS_COLORS[CLASS_NAMES.index('pedestrian')]


@pytest.fixture(scope='module')
def scene(vis_nuscenes):
    nusc = open_nuscenes(vis_nuscenes['dataroot'], vis_nuscenes['version'])
    return load_sample_scene(nusc, vis_nuscenes['sample_token'])


def count(img: np.ndarray, color) -> int:
    return int((img == np.asarray(color, dtype=np.uint8)).all(axis=-1).sum())


def test_bev_projection_puts_ego_forward_up(scene):
    proj = BevProjection(scene, bev_range=20.0, pixels_per_m=10.0)
    assert proj.size == 400
    ahead = proj(np.array([[0.0, 10.0]]))[0]            # 10 m ahead: lidar +y is ego forward
    left = proj(np.array([[-10.0, 0.0]]))[0]            # ego left is lidar -x
    np.testing.assert_allclose(ahead, [200.0, 100.0], atol=1e-9)
    np.testing.assert_allclose(left, [100.0, 200.0], atol=1e-9)


def test_bev_draws_boxes_where_they_are(scene):
    panel = make_panels(scene.gt, {})[0]
    img = draw_bev(scene, panel, bev_range=20.0, pixels_per_m=10.0)
    assert img.shape == (400, 400, 3) and img.dtype == np.uint8
    proj = BevProjection(scene, 20.0, 10.0)
    car_corners = scene.gt.filter(scene.gt.labels == 0).corners()[0]
    # the car's front edge (corners 2 and 3 on the ground) is drawn in the car colour
    front_mid = proj(car_corners[[2, 3], :2].mean(axis=0, keepdims=True))[0]
    u, v = np.round(front_mid).astype(int)
    assert (img[v - 1:v + 2, u - 1:u + 2] == CAR).all(axis=-1).any()
    car_rows = np.nonzero((img == CAR).all(axis=-1))[0]
    assert car_rows.max() < 200                                     # ahead of the ego: above centre
    ped_rows = np.nonzero((img == PEDESTRIAN).all(axis=-1))[0]
    assert ped_rows.min() > 200                                     # behind the ego
    assert count(img, LIDAR_COLOR) > 100                            # the 20 m ground ring, partly
    assert count(img, RADAR_COLORS[0]) > 0 and count(img, BACKGROUND) > 0.8 * img[..., 0].size


def test_radar_colour_by_rcs_changes_points_not_boxes(scene):
    panel = make_panels(scene.gt, {})[0]
    by_sensor = draw_bev(scene, panel, 'sensor', bev_range=20.0, pixels_per_m=10.0)
    by_rcs = draw_bev(scene, panel, 'rcs', bev_range=20.0, pixels_per_m=10.0)
    assert count(by_rcs, RADAR_COLORS[0]) == 0
    rcs_color = radar_colors(np.array([0]), np.array([10.0]), 'rcs')[0]
    assert count(by_rcs, rcs_color) > 0
    assert count(by_rcs, CAR) > 0 and count(by_sensor, CAR) > 0
    with pytest.raises(ValueError, match='color_by'):
        radar_colors(np.array([0]), np.array([0.0]), 'height')


def test_overlay_tints_predictions(scene):
    pred = BoxSet(scene.gt.boxes[:1] + [2.0, 0, 0, 0, 0, 0, 0], [0], [0.9])
    panels = make_panels(scene.gt, {'model': pred}, layout='overlay')
    assert len(panels) == 1 and panels[0].title == 'ground truth + model'
    img = draw_bev(scene, panels[0], bev_range=20.0, pixels_per_m=10.0)
    tinted = box_colors(np.array([0]), 1, overlay=True)[0]
    assert not (tinted == CAR).all()
    assert count(img, CAR) > 0 and count(img, tinted) > 0


def test_camera_images_show_the_projected_boxes(scene):
    panel = make_panels(scene.gt, {})[0]
    views = {v.channel: v for v in scene.cameras}
    front = draw_camera(scene, views['CAM_FRONT'], panel, scale=1.0)
    back = draw_camera(scene, views['CAM_BACK'], panel, scale=1.0)
    assert front.shape == (240, 320, 3)
    car_cols = np.nonzero((front == CAR).all(axis=-1))[1]
    assert car_cols.size > 50 and abs(np.median(car_cols) - 160) < 5   # centred in CAM_FRONT
    assert count(front, PEDESTRIAN) == 0
    assert count(back, PEDESTRIAN) > 20 and count(back, CAR) == 0
    assert count(front, (100, 100, 100)) > 0.8 * 240 * 320             # the camera image itself
    half = draw_camera(scene, views['CAM_FRONT'], panel, scale=0.5)
    assert half.shape == (120, 160, 3) and count(half, CAR) > 0


def test_box_crossing_the_camera_plane_is_not_drawn(scene):
    views = {v.channel: v for v in scene.cameras}
    cam_in_lidar = np.linalg.inv(views['CAM_FRONT'].lidar2cam)[:3, 3]
    around_camera = BoxSet([[*cam_in_lidar[:2], cam_in_lidar[2] - 1, 4, 4, 2, 0]], [0])
    panel = make_panels(around_camera, {})[0]
    img = draw_camera(scene, views['CAM_FRONT'], panel, scale=1.0)
    assert count(img, CAR) == 0


def test_mosaic_stacks_panels_and_marks_absent_images(scene, tmp_path):
    panels = make_panels(scene.gt, {'model': BoxSet(scene.gt.boxes, scene.gt.labels, [1.0, 1.0])})
    mosaic = draw_cameras(scene, panels, scale=0.5)
    assert mosaic.shape == (2 * (TITLE_BAR + 2 * 120), 3 * 160, 3)
    # CAM_FRONT is the middle of the top row: the car is drawn there in both panels
    for top in (TITLE_BAR, 2 * TITLE_BAR + 240):
        assert count(mosaic[top:top + 120, 160:320], CAR) > 0
    views = {v.channel: v for v in scene.cameras}
    erased = views['CAM_FRONT'].__class__(**{**vars(views['CAM_FRONT']),
                                             'img_path': str(tmp_path / 'erased.jpg')})
    img = draw_camera(scene, erased, panels[0], scale=1.0)
    assert count(img, (90, 90, 90)) > 0.8 * 240 * 320 and count(img, CAR) > 0
