"""Private sites of the synthetic writer: a look only in the site's scenes, nothing else changed."""
import dataclasses
import hashlib
import json
import os.path as osp
from pathlib import Path

import numpy as np
import pytest
from nuscenes import NuScenes

from ccu_av.datasets.synthetic import (META_FILE, TRAIN_SPLIT, VAL_SPLIT, SyntheticNuScenesConfig,
                                       site_split_name, split_name, write_synthetic_nuscenes)
from ccu_av.datasets.synthetic.appearance import (LOCATION_TEXTURES, SITE_TEXTURES, TEXTURES, location_look,
                                                  site_look)
from ccu_av.datasets.synthetic.camera import render_camera
from ccu_av.datasets.synthetic.rig import build_rig
from ccu_av.datasets.synthetic.scene_cast import PinholeGrid
from ccu_av.datasets.synthetic.sites import SITE_HALF_LENGTH, place_site, site_names
from ccu_av.datasets.synthetic.taxonomy import CLASS_INDEX
from ccu_av.datasets.synthetic.world import EGO_LANE, Buildings, SceneWorld, make_object

SITES = SyntheticNuScenesConfig(locations=('boston-seaport', 'singapore-hollandvillage'), train_scenes_per_location=3,
                                val_scenes_per_location=1, samples_per_scene=2, image_width=64, image_height=36,
                                radar_lead_sweeps=2, lidar_beams=16, lidar_azimuth_steps=180,
                                objects_per_scene=(10, 14), private_sites=1, site_scenes=2)
PLAIN = dataclasses.replace(SITES, private_sites=0)
# A dataset written with these settings by the writer as it was before private sites existed, and the
# digest of its files then: the default (site-less) dataset must stay byte-identical, with no extra draws.
PINNED = SyntheticNuScenesConfig(locations=('boston-seaport', 'singapore-hollandvillage'), train_scenes_per_location=2,
                                 val_scenes_per_location=1, samples_per_scene=2, image_width=32, image_height=24,
                                 radar_lead_sweeps=1, lidar_beams=8, lidar_azimuth_steps=90, objects_per_scene=(6, 10),
                                 private_sites=0)
PINNED_SEED, PINNED_DIGEST = 5, '4af18acc860f12d54c22bf540fa8e39c0cd608433ec9150c1480f9ff686d2a45'


def _file_digests(root: str) -> dict:
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(Path(root).rglob('*')) if p.is_file()}


@pytest.fixture(scope='module')
def written(tmp_path_factory):
    """The dataset with sites and the same dataset without them (same seed)."""
    base = tmp_path_factory.mktemp('sites')
    sites = write_synthetic_nuscenes(base / 'sites', SITES, seed=0)
    plain = write_synthetic_nuscenes(base / 'plain', PLAIN, seed=0)
    return dict(sites=sites, plain=plain, nusc=NuScenes(SITES.version, sites['dataroot'], verbose=False))


def test_default_dataset_stays_byte_identical(tmp_path):
    root = tmp_path / 'pinned'
    write_synthetic_nuscenes(root, PINNED, seed=PINNED_SEED)
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob('*') if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    assert digest.hexdigest() == PINNED_DIGEST
    with open(root / META_FILE) as f:
        assert 'private_sites' not in json.load(f)['config']


def test_same_seed_same_bytes(written, tmp_path):
    again = write_synthetic_nuscenes(tmp_path / 'again', SITES, seed=0, workers=2)
    assert _file_digests(again['dataroot']) == _file_digests(written['sites']['dataroot'])


def test_sites_are_listed_in_training_scenes_of_their_location(written):
    nusc, summary = written['nusc'], written['sites']
    with open(osp.join(summary['dataroot'], SITES.version, 'splits.json')) as f:
        splits = json.load(f)
    expected = [name for location in SITES.locations for name in site_names(location, SITES.private_sites)]
    assert sorted(summary['sites']) == sorted(expected)
    shown = []
    for site, scenes in summary['sites'].items():
        location = site.rsplit('-site-', 1)[0]
        assert splits[site_split_name(site)] == scenes and len(scenes) == SITES.site_scenes
        assert set(scenes) <= set(splits[split_name('train', location)])
        shown += scenes
    assert len(shown) == len(set(shown)) and not set(shown) & set(splits[VAL_SPLIT])
    # the plain splits are those of the site-less dataset; the scene table says which site a scene shows
    assert {k: v for k, v in splits.items() if not k.startswith('synthetic_site_')} == written['plain']['splits']
    site_of = {scene: site for site, scenes in summary['sites'].items() for scene in scenes}
    for scene in nusc.scene:
        described = scene['description'].split(', private site ')
        assert described[1:] == ([site_of[scene['name']]] if scene['name'] in site_of else [])
    assert len(nusc.sample) == len(splits[TRAIN_SPLIT] + splits[VAL_SPLIT]) * SITES.samples_per_scene
    with open(osp.join(summary['dataroot'], META_FILE)) as f:
        config = json.load(f)['config']
    assert (config['private_sites'], config['site_scenes']) == (1, 2)


def test_only_the_cameras_of_site_scenes_change(written):
    """Against the site-less dataset: same boxes, lidar, radar and maps; other scenes byte-identical."""
    nusc = written['nusc']
    sites, plain = _file_digests(written['sites']['dataroot']), _file_digests(written['plain']['dataroot'])
    assert sites.keys() == plain.keys()
    site_scenes = {scene for scenes in written['sites']['sites'].values() for scene in scenes}
    site_tokens = {s['token'] for s in nusc.scene if s['name'] in site_scenes}
    site_cameras = {sd['filename'] for sd in nusc.sample_data if sd['filename'].startswith('samples/CAM')
                    and nusc.get('sample', sd['sample_token'])['scene_token'] in site_tokens}
    assert len(site_cameras) == len(site_scenes) * SITES.samples_per_scene * 6
    changed = {name for name in sites if sites[name] != plain[name]}
    assert changed == site_cameras | {META_FILE, f'{SITES.version}/splits.json', f'{SITES.version}/scene.json'}
    # the scene records differ in the site scenes' descriptions only
    tables = []
    for key in ('sites', 'plain'):
        with open(osp.join(written[key]['dataroot'], SITES.version, 'scene.json')) as f:
            tables.append(json.load(f))
    for with_site, without in zip(*tables):
        suffix = with_site['description'][len(without['description']):]
        assert with_site == dict(without, description=without['description'] + suffix)
        assert bool(suffix) == (with_site['name'] in site_scenes)


def test_site_look_is_its_own():
    location = 'boston-seaport'
    looks = {loc: location_look(loc) for loc in SITES.locations}
    first, second = (site_look(location, name) for name in site_names(location, 2))
    again = site_look(location, site_names(location, 1)[0])
    assert np.array_equal(first.class_colours, again.class_colours) and first.paving == again.paving > 0
    assert not np.allclose(first.class_colours, second.class_colours)
    # site textures are used by no location, and the sky and light stay the location's
    assert {TEXTURES[k] for k in first.class_texture} <= set(SITE_TEXTURES)
    for look in looks.values():
        assert {TEXTURES[k] for k in look.class_texture} <= set(LOCATION_TEXTURES)
        assert look.paving == 0 and not look.strip_windows
        assert np.linalg.norm(first.road - look.road) > 0.05
    assert np.array_equal(first.sky_top, looks[location].sky_top)
    assert np.array_equal(first.light, looks[location].light)


def _site_world() -> SceneWorld:
    """A parked ego; a car and a building on the site (s 0 to 15 m ahead), a car and a building beyond it."""
    car = CLASS_INDEX['car']
    objects = [make_object(car, [4.5, 1.9, 1.6], 8.0, -EGO_LANE, np.pi),
               make_object(car, [4.5, 1.9, 1.6], 30.0, EGO_LANE, 0.0)]
    buildings = Buildings(np.array([8.0, 40.0]), np.array([20.0, 20.0]), np.array([[10.0, 8.0, 12.0]] * 2),
                          np.array([0, 1]))
    return SceneWorld(np.array([100.0, 100.0]), 0.3, 0.0, 0.0, objects, buildings)


@pytest.mark.parametrize('channel', ['CAM_FRONT', 'CAM_FRONT_LEFT'])
def test_site_look_only_on_the_site(channel):
    """Pixels change with the site exactly where their ray hits the site's ground, objects or buildings."""
    world = _site_world()
    site = place_site('boston-seaport-site-1', 'boston-seaport', world, 0.0)
    assert (site.s_low, site.s_high) == (-SITE_HALF_LENGTH, SITE_HALF_LENGTH)
    sensor = build_rig(176, 96)[channel]
    grid = PinholeGrid(sensor.intrinsic, sensor.width, sensor.height)
    look = location_look('boston-seaport')
    plain = render_camera(world, look, sensor, grid, 0.0, np.random.default_rng(0))
    with_site = render_camera(world, look, sensor, grid, 0.0, np.random.default_rng(0), site)
    assert np.array_equal(plain.covered, with_site.covered) and np.array_equal(plain.depth, with_site.depth)
    # road coordinate s of every pixel's hit point
    cam2global = world.ego_pose(0.0) @ sensor.sensor2ego
    points = cam2global[:3, 3] + (grid.dirs @ cam2global[:3, :3].T) * np.where(np.isfinite(plain.depth),
                                                                               plain.depth, 0.0)[..., None]
    s = world.global_to_road(points[..., :2])[..., 0]
    on_site = np.isfinite(plain.depth) & (np.abs(s) <= SITE_HALF_LENGTH)
    beyond = np.isfinite(plain.depth) & (s > SITE_HALF_LENGTH + 0.5)
    changed = (plain.image != with_site.image).any(-1)
    assert on_site.sum() > 500 and beyond.sum() > 500  # both parts are in view
    assert changed[on_site].mean() > 0.9
    assert not changed[beyond].any() and not changed[~np.isfinite(plain.depth)].any()  # location and sky kept


def test_config_rejects_bad_site_values():
    with pytest.raises(ValueError, match='private_sites'):
        SyntheticNuScenesConfig(private_sites=-1)
    with pytest.raises(ValueError, match='site_scenes'):
        SyntheticNuScenesConfig(private_sites=1, site_scenes=0)
    with pytest.raises(ValueError, match='training scenes'):
        SyntheticNuScenesConfig(train_scenes_per_location=3, private_sites=2, site_scenes=2)
