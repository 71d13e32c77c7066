"""Camera rendering: one ray per pixel against the scene, the nearest hit wins.

Objects are shaded by face (sun direction), coloured by their location's look and textured in
their own frame; the ground has lanes, kerbs, sidewalks and verges; the sky is a gradient.
In a scene with a private site, the rays that hit the site's ground, buildings or objects are
coloured again with the site's look (the others keep exactly their location's colours).
Letters: H, W image size, R = H * W rays, K objects.
"""
from dataclasses import dataclass
from typing import Optional

import numpy as np

from .appearance import TEXTURES, LocationLook
from .geometry import hit_local, ray_box_distances
from .rig import Sensor
from .scene_cast import PinholeGrid, cast_grid
from .sites import PrivateSite
from .taxonomy import ROLE_INDEX
from .world import ROAD_HALF_WIDTH, SIDEWALK_OUTER, SceneWorld

_VIEW_DISTANCE = 150.0
_FOG_DISTANCE = 140.0
_SHADOW_DISTANCE = 40.0  # shadows farther from the camera cover too few pixels to draw
_AMBIENT = 0.55


@dataclass
class CameraFrame:
    """A rendered image and how much of each object it shows.

    Args:
        image: (H, W, 3) uint8 RGB.
        covered: (K,) pixels that each object covers when drawn alone.
        visible: (K,) pixels where each object is the nearest surface.
        depth: (H, W) distance along each pixel's ray (``inf`` for sky).
    """
    image: np.ndarray
    covered: np.ndarray
    visible: np.ndarray
    depth: np.ndarray


def render_camera(world: SceneWorld, look: LocationLook, sensor: Sensor, grid: PinholeGrid, t: float,
                  rng: np.random.Generator, site: Optional[PrivateSite] = None) -> CameraFrame:
    """Render one camera at time ``t`` (seconds from the scene's first key frame).

    Args:
        grid: the camera's pixel rays (``PinholeGrid`` of ``sensor``).
        site: the scene's private site, if it shows one (its rays take the site's look).
    """
    cam2global = world.ego_pose(t) @ sensor.sensor2ego
    origin = cam2global[:3, 3]
    parts = world.parts(t)
    hits = cast_grid(parts, grid, cam2global, _VIEW_DISTANCE, len(world.objects))
    dirs = (grid.dirs @ cam2global[:3, :3].T).reshape(-1, 3)  # (R, 3) global
    t_hit, part, ground = hits.t.ravel(), hits.part.ravel(), hits.ground.ravel()

    colour = _sky(look, dirs)
    colour[ground] = _ground(world, look, origin, origin + dirs[ground] * t_hit[ground, None], t)
    on_part = part >= 0
    colour[on_part] = _surfaces(parts, part[on_part], look, world, origin, dirs[on_part], t_hit[on_part])
    if site is not None:
        _paint_site(colour, site, world, parts, origin, dirs, t_hit, part, ground, t)
    # distance fog towards the horizon colour, then the location's light and sensor noise
    fog = 1.0 - np.exp(-np.where(np.isfinite(t_hit), t_hit, 0.0) / _FOG_DISTANCE)
    colour = colour * (1 - fog[:, None]) + look.sky_horizon * fog[:, None]
    colour = colour * look.light + rng.normal(0.0, 0.015, colour.shape)
    image = (np.clip(colour, 0, 1) * 255 + 0.5).astype(np.uint8).reshape(sensor.height, sensor.width, 3)
    owner = np.where(on_part, parts['owner'][np.maximum(part, 0)], -1)
    visible = np.bincount(owner[owner >= 0], minlength=len(world.objects))[:len(world.objects)]
    return CameraFrame(image, hits.covered, visible, hits.t)


def _paint_site(colour: np.ndarray, site: PrivateSite, world: SceneWorld, parts: dict, origin: np.ndarray,
                dirs: np.ndarray, t_hit: np.ndarray, part: np.ndarray, ground: np.ndarray, t: float) -> None:
    """Colour again, in place, the (R, 3) ``colour`` of the rays that hit the site, with its look."""
    # ground rays whose hit point lies on the site's stretch of road
    rays = np.flatnonzero(ground)
    points = origin + dirs[rays] * t_hit[rays, None]
    on_site = site.covers(world, points)
    colour[rays[on_site]] = _ground(world, site.look, origin, points[on_site], t)
    # rays that hit a part of one of the site's objects or buildings
    rays = np.flatnonzero(part >= 0)
    rays = rays[site.parts[part[rays]]]
    colour[rays] = _surfaces(parts, part[rays], site.look, world, origin, dirs[rays], t_hit[rays])


def _sky(look: LocationLook, dirs: np.ndarray) -> np.ndarray:
    elevation = np.clip(dirs[:, 2] / 0.5, 0.0, 1.0)[:, None]
    return look.sky_horizon * (1 - elevation) + look.sky_top * elevation


def _hash_noise(ix: np.ndarray, iy: np.ndarray) -> np.ndarray:
    """Deterministic value noise in [0, 1) on an integer lattice."""
    h = (ix.astype(np.int64) * 73856093) ^ (iy.astype(np.int64) * 19349663)
    return ((h * 83492791) % 1000003) / 1000003.0


def _ground(world: SceneWorld, look: LocationLook, origin: np.ndarray, points: np.ndarray, t: float) -> np.ndarray:
    """Ground colour at (G, 3) global points: road with markings, sidewalk, verge, and object shadows."""
    s, d = world.global_to_road(points[:, :2]).T
    a = np.abs(d)
    colour = np.where((a < ROAD_HALF_WIDTH)[:, None], look.road,
                      np.where((a < SIDEWALK_OUTER)[:, None], look.sidewalk, look.verge))
    dashed = (np.mod(s, 9.0) < 4.5)
    marking = ((np.abs(d) < 0.08) | ((np.abs(a - 3.5) < 0.07) & dashed) | (np.abs(a - ROAD_HALF_WIDTH + 0.2) < 0.08))
    colour = np.where(marking[:, None], look.marking, colour)
    kerb = np.abs(a - ROAD_HALF_WIDTH) < 0.15
    colour = np.where(kerb[:, None], look.sidewalk * 0.7, colour)
    tiles = (a >= ROAD_HALF_WIDTH) & (a < SIDEWALK_OUTER) & ((np.mod(s, 1.5) < 0.05) | (np.mod(d, 1.5) < 0.05))
    colour = np.where(tiles[:, None], colour * 0.8, colour)
    if look.paving > 0:  # a site's diagonal paving, across road and sidewalks alike
        paved = np.mod((s + d) / look.paving, 1.0) < 0.35
        colour = np.where(paved[:, None], colour * 0.7, colour)
    grain = _hash_noise(np.floor(points[:, 0] * 3), np.floor(points[:, 1] * 3))
    shadow = np.zeros(len(points), bool)
    near = np.flatnonzero(np.linalg.norm(points[:, :2] - origin[:2], axis=1) < _SHADOW_DISTANCE)
    shadow[near] = _in_shadow(world, points[near], look.sun, t)
    light = np.where(shadow, _AMBIENT, _AMBIENT + (1 - _AMBIENT) * max(look.sun[2], 0.0))
    return colour * ((0.92 + 0.16 * grain) * light)[:, None]


def _in_shadow(world: SceneWorld, points: np.ndarray, sun: np.ndarray, t: float) -> np.ndarray:
    """(G,) whether an object's box lies between each ground point and the sun."""
    shadow = np.zeros(len(points), bool)
    centers, yaws, sizes, _ = world.boxes(t)
    if len(centers) == 0 or len(points) == 0 or sun[2] <= 0.05:
        return shadow
    # each object's shadow lies within a circle around its centre shifted away from the sun
    length = sizes[:, 2] * np.linalg.norm(sun[:2]) / sun[2]
    away = -sun[:2] / max(np.linalg.norm(sun[:2]), 1e-9)
    circle = centers[:, :2] + away * length[:, None] / 2
    radius = np.linalg.norm(sizes[:, :2], axis=1) / 2 + length / 2
    origins = points + np.array([0.0, 0.0, 0.01])
    lo, hi = points[:, :2].min(0), points[:, :2].max(0)
    for k in np.flatnonzero(np.all((circle + radius[:, None] > lo) & (circle - radius[:, None] < hi), axis=1)):
        near = np.flatnonzero((np.abs(points[:, 0] - circle[k, 0]) < radius[k]) &
                              (np.abs(points[:, 1] - circle[k, 1]) < radius[k]) & ~shadow)
        if len(near):
            hit = ray_box_distances(origins[near], np.broadcast_to(sun, (len(near), 3)), centers[k:k + 1],
                                    yaws[k:k + 1], 0.97 * sizes[k:k + 1] / 2)
            shadow[near[np.isfinite(hit[:, 0])]] = True
    return shadow


def _surfaces(parts: dict, index: np.ndarray, look: LocationLook, world: SceneWorld, origin: np.ndarray,
              dirs: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Colour of object parts and buildings where rays hit them."""
    centers, yaws, half = parts['centers'][index], parts['yaws'][index], parts['half'][index]
    local, face = hit_local(origin, dirs, t, centers, yaws, half)
    role, owner, variant = parts['role'][index], parts['owner'][index], parts['variant'][index]
    labels = np.array([o.label for o in world.objects] + [0])[owner]  # owner -1 (building) -> dummy
    colour = look.role_colours[role].copy()
    primary = role == ROLE_INDEX['primary']
    colour[primary] = look.class_colours[labels[primary], variant[primary]]
    secondary = role == ROLE_INDEX['secondary']
    colour[secondary] = look.class_secondary[labels[secondary]]
    colour[primary] *= _texture(look, labels[primary], local[primary])[:, None]
    building = role == ROLE_INDEX['building']
    colour[building] = _facade(look, variant[building], local[building], face[building])
    # face shading: normal in the global frame from the hit face and its side
    normal_local = np.zeros_like(local)
    normal_local[np.arange(len(face)), face] = np.sign(local[np.arange(len(face)), face])
    cos, sin = np.cos(yaws), np.sin(yaws)
    normal = np.stack([cos * normal_local[:, 0] - sin * normal_local[:, 1],
                       sin * normal_local[:, 0] + cos * normal_local[:, 1], normal_local[:, 2]], axis=1)
    shade = _AMBIENT + (1 - _AMBIENT) * np.clip(normal @ look.sun, 0.0, 1.0)
    return colour * shade[:, None]


def _texture(look: LocationLook, labels: np.ndarray, local: np.ndarray) -> np.ndarray:
    """Brightness factor of each class's texture at part-local hit points."""
    freq = look.texture_freq[labels]
    kind = look.class_texture[labels]
    x, y, z = local[:, 0] * freq, local[:, 1] * freq, local[:, 2] * freq
    factor = np.ones(len(labels))
    stripes = kind == TEXTURES.index('stripes')
    factor[stripes] = np.where(np.mod(z[stripes], 1.0) < 0.5, 1.0, 0.6)
    bands = kind == TEXTURES.index('bands')
    factor[bands] = np.where(np.mod(x[bands] + y[bands], 1.0) < 0.5, 1.0, 0.55)
    checker = kind == TEXTURES.index('checker')
    factor[checker] = np.where((np.floor(x[checker]) + np.floor(y[checker]) + np.floor(z[checker])) % 2 == 0,
                               1.0, 0.6)
    dots = kind == TEXTURES.index('dots')
    fx, fy, fz = np.mod(x[dots], 1.0) - 0.5, np.mod(y[dots], 1.0) - 0.5, np.mod(z[dots], 1.0) - 0.5
    factor[dots] = np.where(np.minimum(fx ** 2, fy ** 2) + fz ** 2 < 0.06, 0.45, 1.0)
    # the private sites' textures
    zigzag = kind == TEXTURES.index('zigzag')
    zig = np.abs(np.mod(x[zigzag] + y[zigzag], 1.0) - 0.5)
    factor[zigzag] = np.where(np.mod(z[zigzag] + zig, 0.5) < 0.25, 1.0, 0.5)
    rings = kind == TEXTURES.index('rings')
    factor[rings] = np.where(np.mod(np.hypot(x[rings] + y[rings], z[rings]), 1.0) < 0.5, 1.0, 0.5)
    diagonal = kind == TEXTURES.index('diagonal')
    factor[diagonal] = np.where(np.mod(x[diagonal] + y[diagonal] - z[diagonal], 1.0) < 0.3, 0.45, 1.0)
    return factor


def _facade(look: LocationLook, variant: np.ndarray, local: np.ndarray, face: np.ndarray) -> np.ndarray:
    """Building facades: a wall colour with a grid of darker windows (a site's: window strips)."""
    colour = look.building_colours[variant].copy()
    along = np.where(face == 0, local[:, 1], local[:, 0])
    storey = np.mod(local[:, 2] / 3.0, 1.0)
    if look.strip_windows:
        window = (storey > 0.45) & (storey < 0.8) & (face != 2)
    else:
        window = (np.mod(along / 2.5, 1.0) < 0.55) & (storey > 0.35) & (face != 2)
    colour[window] = look.role_colours[ROLE_INDEX['window']] * 1.3
    return colour
