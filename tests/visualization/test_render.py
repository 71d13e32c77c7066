import importlib.util
import json

import cv2
import numpy as np
import pytest

from ccu_av.visualization import BoxSet, HeadlessRenderError, render_sample
from ccu_av.visualization.boxes import CLASS_COLORS
from ccu_av.visualization.colors import box_colors
from ccu_av.visualization.draw2d import TITLE_BAR

CAR = CLASS_COLORS[0]


def read(path) -> np.ndarray:
    return cv2.imread(str(path))[..., ::-1]


def car_submission(vis_nuscenes, shift: float) -> dict:
    """The ground-truth car, moved ``shift`` m along global x, as a submission."""
    tables = f'{vis_nuscenes["dataroot"]}/{vis_nuscenes["version"]}/sample_annotation.json'
    car = next(a for a in json.load(open(tables)) if a['token'] == 'ann_car')
    box = dict(sample_token=vis_nuscenes['sample_token'],
               translation=[car['translation'][0] + shift, *car['translation'][1:]],
               size=car['size'], rotation=car['rotation'], velocity=[0, 0], detection_name='car',
               detection_score=0.8, attribute_name='')
    low = dict(box, detection_name='pedestrian', detection_score=0.1)     # under score_thr
    return {'meta': {}, 'results': {vis_nuscenes['sample_token']: [box, low]}}


def test_render_sample_writes_the_three_pictures_reproducibly(vis_nuscenes, tmp_path):
    pytest.importorskip('open3d')
    sub = tmp_path / 'original.json'
    sub.write_text(json.dumps(car_submission(vis_nuscenes, 3.0)))
    predictions = {'original': sub, 'unlearned': BoxSet(np.zeros((0, 7)), [], [])}
    args = (vis_nuscenes['dataroot'], vis_nuscenes['version'], vis_nuscenes['sample_token'])
    paths = render_sample(*args, tmp_path / 'a', predictions=predictions, interactive=False,
                          bev_range=20.0, size_3d=(320, 240))
    assert set(paths) == {'bev', 'cameras', 'scene3d'}
    assert sorted(p.name for p in (tmp_path / 'a').iterdir()) == sorted(p.name for p in paths.values())
    bev, cams, view3d = (read(paths[k]) for k in ('bev', 'cameras', 'scene3d'))
    # three panels side by side: ground truth, original (the car), unlearned (nothing)
    size = 320
    assert bev.shape == (size, 3 * size + 2 * 4, 3) and view3d.shape == (240, 3 * 320, 3)
    panels = [bev[:, i * (size + 4):i * (size + 4) + size] for i in range(3)]
    car_pixels = [(p == CAR).all(axis=-1).sum() for p in panels]
    assert car_pixels[0] > 0 and car_pixels[1] > 0 and car_pixels[2] == 0
    ped = box_colors(np.array([8]), 0, False)[0]
    assert (panels[1] == ped).all(axis=-1).sum() == 0                # score 0.1 < 0.3: left out
    panel_h = TITLE_BAR + 2 * 120                                    # two rows of 160x120 cameras
    assert cams.shape == (3 * panel_h, 3 * 160, 3)
    fronts = [cams[i * panel_h + TITLE_BAR:i * panel_h + TITLE_BAR + 120, 160:320] for i in range(3)]
    assert [(f == CAR).all(axis=-1).any() for f in fronts] == [True, True, False]
    again = render_sample(*args, tmp_path / 'b', predictions=predictions, interactive=False,
                          bev_range=20.0, size_3d=(320, 240))
    for key in paths:
        assert paths[key].read_bytes() == again[key].read_bytes(), key


def test_render_errors_write_nothing(vis_nuscenes, tmp_path, monkeypatch):
    out = tmp_path / 'out'
    with pytest.raises(ValueError, match="sample token 'nope'"):
        render_sample(vis_nuscenes['dataroot'], vis_nuscenes['version'], 'nope', out,
                      interactive=False)
    with pytest.raises(ValueError, match='unknown pictures'):
        render_sample(vis_nuscenes['dataroot'], vis_nuscenes['version'],
                      vis_nuscenes['sample_token'], out, interactive=False, pictures=('movie',))
    with pytest.raises(FileNotFoundError, match='missing.json'):
        render_sample(vis_nuscenes['dataroot'], vis_nuscenes['version'],
                      vis_nuscenes['sample_token'], out, interactive=False,
                      predictions={'m': tmp_path / 'missing.json'})
    if importlib.util.find_spec('open3d') is not None:
        # no EGL driver: the 3D view fails, and the BEV and camera pictures are not written either
        monkeypatch.setenv('__EGL_VENDOR_LIBRARY_FILENAMES', str(tmp_path / 'none.json'))
        with pytest.raises(HeadlessRenderError, match='libgl1-mesa-dri'):
            render_sample(vis_nuscenes['dataroot'], vis_nuscenes['version'],
                          vis_nuscenes['sample_token'], out, interactive=False,
                          size_3d=(64, 48))
    assert not out.exists()


def test_bev_only_is_quick_and_overlay_is_one_panel(vis_nuscenes, tmp_path):
    sub = car_submission(vis_nuscenes, 3.0)
    paths = render_sample(vis_nuscenes['dataroot'], vis_nuscenes['version'],
                          vis_nuscenes['sample_token'], tmp_path, predictions={'m': sub},
                          interactive=False, layout='overlay', pictures=('bev',),
                          bev_range=20.0)
    bev = read(paths['bev'])
    assert set(paths) == {'bev'} and bev.shape == (320, 320, 3)
    assert (bev == box_colors(np.array([0]), 1, True)[0]).all(axis=-1).sum() > 0


def _box_footprints(scene, proj):
    """Per ground-truth box: (label, column/row bounds of its projected bottom face)."""
    for label, corners in zip(scene.gt.labels, scene.gt.corners()):
        uv = proj(corners[:, :2])
        yield label, np.floor(uv.min(axis=0)).astype(int) - 2, np.ceil(uv.max(axis=0)).astype(int) + 2


def test_synthetic_sample_pictures_show_every_box(tmp_path):
    from ccu_av.datasets.synthetic import SyntheticNuScenesConfig, write_synthetic_nuscenes
    from ccu_av.visualization import load_sample_scene, open_nuscenes, render_scene, resolve_sample_token
    from ccu_av.visualization.draw2d import BevProjection
    config = SyntheticNuScenesConfig(
        locations=('boston-seaport',), takedown_location='boston-seaport', train_scenes_per_location=1,
        val_scenes_per_location=1, samples_per_scene=2, lidar_beams=8, lidar_azimuth_steps=180,
        objects_per_scene=(4, 6), private_sites=0)
    summary = write_synthetic_nuscenes(tmp_path / 'synth', config, seed=0)
    nusc = open_nuscenes(summary['dataroot'], config.version)
    scene = load_sample_scene(nusc, resolve_sample_token(nusc, scene='scene-0001', index=1))
    assert set(scene.radar.sensor.tolist()) == set(range(5)) and scene.radar.time_lag.max() > 0
    assert scene.lidar_xyz is not None and len(scene.gt) >= 4
    paths = render_scene(scene, tmp_path / 'out', pictures=('bev', 'cameras'), bev_range=30.0)
    bev, cams = read(paths['bev']), read(paths['cameras'])
    proj = BevProjection(scene, 30.0, 8.0)
    for label, low, high in _box_footprints(scene, proj):
        if (low >= 0).all() and (high < proj.size).all():
            patch = bev[low[1]:high[1] + 1, low[0]:high[0] + 1]
            assert (patch == CLASS_COLORS[label]).all(axis=-1).any(), CLASS_COLORS[label]
    assert cams.std() > 10                                            # the camera images themselves
    assert any((cams == CLASS_COLORS[label]).all(axis=-1).any() for label in scene.gt.labels)

