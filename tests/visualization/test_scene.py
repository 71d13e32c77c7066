import numpy as np
import pytest
from vis_dataroot import CAR_AHEAD, FOCAL, IMAGE_W, SCENE, write_tiny_nuscenes

from ccu_av.visualization.boxes import CLASS_NAMES
from ccu_av.visualization.scene import (RADARS, load_sample_scene, open_nuscenes,
                                        resolve_sample_token)

LIDAR_FORWARD_OFFSET = 0.9      # LIDAR_TOP sits 0.9 m ahead of the ego origin (conftest)


@pytest.fixture(scope='module')
def nusc(vis_nuscenes):
    return open_nuscenes(vis_nuscenes['dataroot'], vis_nuscenes['version'])


def test_ground_truth_in_the_lidar_frame(nusc, vis_nuscenes):
    scene = load_sample_scene(nusc, vis_nuscenes['sample_token'])
    assert scene.scene_name == SCENE
    assert [CLASS_NAMES[i] for i in scene.gt.labels] == ['car', 'pedestrian']
    # ego forward is +y in LIDAR_TOP (turned -90 degrees), so the car faces +y (yaw pi/2)
    x, y, z, length, width, height, yaw = scene.gt.boxes[0]
    np.testing.assert_allclose([x, y, z], [0.0, CAR_AHEAD - LIDAR_FORWARD_OFFSET, -1.8], atol=1e-6)
    np.testing.assert_allclose([length, width, height, yaw], [4.5, 2.0, 1.6, np.pi / 2], atol=1e-6)
    # the pedestrian: 10 m behind, 5 m left of the ego -> lidar x = -5 (ego left is lidar -x)
    np.testing.assert_allclose(scene.gt.boxes[1, :2], [-5.0, -10.0 - LIDAR_FORWARD_OFFSET], atol=1e-6)


def test_radar_sweeps_are_compensated_and_rotated(nusc, vis_nuscenes):
    scene = load_sample_scene(nusc, vis_nuscenes['sample_token'], num_sweeps=5)
    radar = scene.radar
    assert radar.channels == RADARS
    assert len(radar.xyz) == 2 * 2 + 4 * 2        # front: 2 returns, others 1; two sweeps each
    front = radar.sensor == 0
    # the car stands still: both sweeps of the front radar land on it, 13 m ahead of the ego
    np.testing.assert_allclose(radar.xyz[front, 1], 13.0 - LIDAR_FORWARD_OFFSET, atol=1e-5)
    np.testing.assert_allclose(sorted(set(radar.time_lag[front].round(6))), [0.0, 0.5])
    # vx_comp = 5 m/s along the front radar's x (ego forward) is +y in LIDAR_TOP
    np.testing.assert_allclose(radar.velocity[front], [[0.0, 5.0]] * 4, atol=1e-5)
    np.testing.assert_allclose(radar.velocity[~front], 0.0, atol=1e-6)
    assert radar.rcs[front].tolist() == [10.0, 12.0, 10.0, 12.0]
    one = load_sample_scene(nusc, vis_nuscenes['sample_token'], num_sweeps=1).radar
    assert len(one.xyz) == 6 and (one.time_lag == 0).all()
    with pytest.raises(ValueError, match='num_sweeps'):
        load_sample_scene(nusc, vis_nuscenes['sample_token'], num_sweeps=0)


def test_cameras_project_the_car_into_cam_front(nusc, vis_nuscenes):
    scene = load_sample_scene(nusc, vis_nuscenes['sample_token'])
    assert [v.channel for v in scene.cameras][:3] == ['CAM_FRONT', 'CAM_FRONT_RIGHT', 'CAM_FRONT_LEFT']
    front = scene.cameras[0]
    centre = np.append(scene.gt.boxes[0, :3] + [0, 0, 0.8], 1.0)
    cam = front.lidar2cam @ centre
    assert cam[2] == pytest.approx(CAR_AHEAD - 1.5, abs=1e-6)        # the camera is 1.5 m ahead
    u = FOCAL * cam[0] / cam[2] + IMAGE_W / 2
    assert u == pytest.approx(IMAGE_W / 2, abs=1e-6)
    assert scene.lidar_xyz.shape == (380, 3)


def test_resolve_sample_token_by_scene_and_errors(nusc, vis_nuscenes):
    assert resolve_sample_token(nusc, scene=SCENE) == 'sample_0'
    assert resolve_sample_token(nusc, scene='scene_0', index=-1) == 'sample_1'
    assert resolve_sample_token(nusc, sample_token='sample_1') == 'sample_1'
    with pytest.raises(ValueError, match="'nope' is not in"):
        resolve_sample_token(nusc, sample_token='nope')
    with pytest.raises(ValueError, match=r"scene 'scene-9'.*\['scene-0001'\]"):
        resolve_sample_token(nusc, scene='scene-9')
    with pytest.raises(ValueError, match='has 2 samples; index 5'):
        resolve_sample_token(nusc, scene=SCENE, index=5)
    with pytest.raises(ValueError, match='exactly one'):
        resolve_sample_token(nusc)


def test_missing_version_and_missing_lidar(tmp_path):
    with pytest.raises(FileNotFoundError, match='v1.0-nothing'):
        open_nuscenes(str(tmp_path), 'v1.0-nothing')
    info = write_tiny_nuscenes(tmp_path / 'no_lidar', with_lidar=False)
    scene = load_sample_scene(open_nuscenes(info['dataroot'], info['version']), info['sample_token'])
    assert scene.lidar_xyz is None
    assert len(scene.gt) == 2


def test_absent_radar_files(tmp_path):
    info = write_tiny_nuscenes(tmp_path / 'root')
    (tmp_path / 'root' / 'sweeps' / 'RADAR_FRONT' / 'sd_RADAR_FRONT_0.pcd').unlink()
    nusc = open_nuscenes(info['dataroot'], info['version'])
    radar = load_sample_scene(nusc, info['sample_token']).radar
    assert (radar.sensor == 0).sum() == 2                  # the key sweep only
    assert (radar.sensor == 1).sum() == 2                  # other radars keep both sweeps
    (tmp_path / 'root' / 'samples' / 'RADAR_FRONT' / 'sd_RADAR_FRONT_1.pcd').unlink()
    with pytest.raises(FileNotFoundError, match='RADAR_FRONT file .*sd_RADAR_FRONT_1.pcd'):
        load_sample_scene(nusc, info['sample_token'])
