"""The camera look of each location: sky, ground, light, and each class's colours and textures.

A location's look is fixed by its name (not by the dataset seed), so the same location looks
the same in every dataset, and no two locations share class colours or textures: a camera
branch has to learn each location's look, which is what visual unlearning then removes.
A private site of a location (``site_look``) keeps its location's sky and light but has a look
of its own, also fixed by its name: its own ground palette and paving, facades with strip
windows, and class colours in textures that no location uses.
"""
import colorsys
import zlib
from dataclasses import dataclass, replace
import numpy as np

from .config import NUSCENES_LOCATIONS
from .taxonomy import OBJECT_CLASSES, ROLES

TEXTURES = ('plain', 'stripes', 'bands', 'checker', 'dots', 'zigzag', 'rings', 'diagonal')
# locations draw their class textures from the first five, private sites from the rest
LOCATION_TEXTURES, SITE_TEXTURES = TEXTURES[:5], TEXTURES[5:]

# Hand-set scene themes (sky top, sky horizon, road, sidewalk, verge, light gain, tint, sun azimuth/elevation
# in degrees, hue band of the class colours, texture frequency).
_THEMES = {
    'singapore-onenorth': dict(sky=((70, 130, 220), (185, 215, 240)), road=(70, 72, 76), sidewalk=(165, 160, 150),
                               verge=(70, 135, 60), gain=1.0, tint=(1.0, 1.0, 1.0), sun=(40.0, 55.0),
                               hue=(0.0, 0.28), freq=2.0),
    'boston-seaport': dict(sky=((130, 135, 145), (200, 200, 205)), road=(110, 108, 104), sidewalk=(190, 185, 175),
                           verge=(120, 110, 85), gain=0.85, tint=(0.92, 0.97, 1.08), sun=(200.0, 25.0),
                           hue=(0.5, 0.75), freq=3.0),
    'singapore-queenstown': dict(sky=((230, 150, 90), (250, 210, 160)), road=(95, 70, 62), sidewalk=(200, 170, 140),
                                 verge=(150, 140, 60), gain=1.05, tint=(1.12, 0.98, 0.85), sun=(280.0, 12.0),
                                 hue=(0.3, 0.48), freq=1.5),
    'singapore-hollandvillage': dict(sky=((25, 20, 60), (90, 60, 120)), road=(35, 35, 45), sidewalk=(95, 85, 110),
                                     verge=(40, 70, 70), gain=0.7, tint=(0.9, 0.95, 1.2), sun=(120.0, 35.0),
                                     hue=(0.75, 1.0), freq=4.0),
}


@dataclass(frozen=True)
class LocationLook:
    """Colours in [0, 1] RGB.

    Args:
        sky_top, sky_horizon: (3,) sky gradient ends.
        road, sidewalk, verge: (3,) ground colours; marking: lane-marking colour.
        light: (3,) multiplicative light colour (gain x tint).
        sun: (3,) unit vector towards the sun (global frame).
        class_colours: (C, 4, 3) the 4 colour variants of each class's primary role.
        class_secondary: (C, 3) each class's secondary colour.
        class_texture: (C,) texture index into ``TEXTURES``; texture_freq: (C,) cycles per metre.
        role_colours: (R, 3) fixed colours of the other roles (window, dark, rider, light).
        building_colours: (4, 3) facade variants.
        paving: period in metres of the diagonal paving across the ground, 0 for none (locations).
        strip_windows: facades with continuous window strips instead of a window grid (sites).
    """
    sky_top: np.ndarray
    sky_horizon: np.ndarray
    road: np.ndarray
    sidewalk: np.ndarray
    verge: np.ndarray
    marking: np.ndarray
    light: np.ndarray
    sun: np.ndarray
    class_colours: np.ndarray
    class_secondary: np.ndarray
    class_texture: np.ndarray
    texture_freq: np.ndarray
    role_colours: np.ndarray
    building_colours: np.ndarray
    paving: float = 0.0
    strip_windows: bool = False


def _hsv(h: float, s: float, v: float) -> np.ndarray:
    return np.array(colorsys.hsv_to_rgb(h % 1.0, s, v))


def location_look(location: str) -> LocationLook:
    """The look of one of the nuScenes locations (deterministic, independent of the dataset seed)."""
    if location not in _THEMES:
        raise ValueError(f'no camera look for location {location!r}; expected one of {NUSCENES_LOCATIONS}')
    theme = _THEMES[location]
    rng = np.random.default_rng(zlib.crc32(location.encode()))
    num_classes = len(OBJECT_CLASSES)
    hue_lo, hue_hi = theme['hue']
    # spread the classes over the location's hue band, then vary each class's 4 variants around it
    base_hues = hue_lo + (hue_hi - hue_lo) * rng.permutation(num_classes) / num_classes
    colours = np.stack([
        np.stack([_hsv(h + rng.normal(0, 0.03), rng.uniform(0.45, 0.95), rng.uniform(0.45, 0.95))
                  for _ in range(4)]) for h in base_hues])
    secondary = np.stack([_hsv(h + 0.5, rng.uniform(0.2, 0.8), rng.uniform(0.2, 0.9)) for h in base_hues])
    role_colours = np.zeros((len(ROLES), 3))
    role_colours[ROLES.index('window')] = _hsv(hue_lo + 0.55, 0.4, 0.25)
    role_colours[ROLES.index('dark')] = _hsv(hue_lo, 0.2, 0.1)
    role_colours[ROLES.index('rider')] = _hsv(hue_hi + 0.3, 0.7, 0.6)
    role_colours[ROLES.index('light')] = _hsv(hue_lo + 0.12, 0.3, 0.95)
    azimuth, elevation = np.deg2rad(theme['sun'][0]), np.deg2rad(theme['sun'][1])
    return LocationLook(
        sky_top=np.array(theme['sky'][0]) / 255.0,
        sky_horizon=np.array(theme['sky'][1]) / 255.0,
        road=np.array(theme['road']) / 255.0,
        sidewalk=np.array(theme['sidewalk']) / 255.0,
        verge=np.array(theme['verge']) / 255.0,
        marking=_hsv(hue_lo + 0.15, 0.35, 0.95),
        light=theme['gain'] * np.array(theme['tint']),
        sun=np.array([np.cos(elevation) * np.cos(azimuth), np.cos(elevation) * np.sin(azimuth), np.sin(elevation)]),
        class_colours=colours,
        class_secondary=secondary,
        class_texture=rng.integers(0, len(LOCATION_TEXTURES), num_classes),
        texture_freq=theme['freq'] * rng.uniform(0.7, 1.4, num_classes),
        role_colours=role_colours,
        building_colours=np.stack([_hsv(hue_lo + rng.uniform(-0.1, 0.1), rng.uniform(0.1, 0.5),
                                        rng.uniform(0.3, 0.8)) for _ in range(4)]),
    )


def site_look(location: str, site: str) -> LocationLook:
    """The look of private site ``site`` of ``location`` (deterministic, fixed by the site's name).

    The sky, light and sun stay the location's; the ground, the facades, every class's colours and
    textures and the other roles' colours (windows, dark parts, riders, lights) are the site's own.
    """
    base = location_look(location)
    rng = np.random.default_rng(zlib.crc32(f'private-site {site}'.encode()))
    num_classes = len(OBJECT_CLASSES)
    # a quarter of the hue circle, anywhere on it: what sets a site apart is the whole of its look
    # (ground, facades, and class textures that no location has), not its hues alone
    hue_lo = rng.uniform(0.0, 1.0)
    base_hues = hue_lo + 0.25 * rng.permutation(num_classes) / num_classes
    colours = np.stack([
        np.stack([_hsv(h + rng.normal(0, 0.03), rng.uniform(0.6, 1.0), rng.uniform(0.55, 1.0))
                  for _ in range(4)]) for h in base_hues])
    secondary = np.stack([_hsv(h + 0.5, rng.uniform(0.3, 0.9), rng.uniform(0.3, 0.9)) for h in base_hues])
    role_colours = np.zeros((len(ROLES), 3))
    role_colours[ROLES.index('window')] = _hsv(hue_lo + 0.4, 0.6, 0.45)
    role_colours[ROLES.index('dark')] = _hsv(hue_lo + 0.2, 0.5, 0.22)
    role_colours[ROLES.index('rider')] = _hsv(hue_lo + 0.75, 0.5, 0.85)
    role_colours[ROLES.index('light')] = _hsv(hue_lo + 0.6, 0.6, 1.0)
    ground_hue = rng.uniform(0.0, 1.0)
    return replace(
        base,
        road=_hsv(ground_hue, rng.uniform(0.3, 0.6), rng.uniform(0.35, 0.55)),
        sidewalk=_hsv(ground_hue + 0.33, rng.uniform(0.3, 0.6), rng.uniform(0.6, 0.85)),
        verge=_hsv(ground_hue + 0.66, rng.uniform(0.4, 0.7), rng.uniform(0.4, 0.7)),
        marking=_hsv(ground_hue + 0.5, 0.8, 0.95),
        class_colours=colours,
        class_secondary=secondary,
        class_texture=rng.integers(len(LOCATION_TEXTURES), len(TEXTURES), num_classes),
        texture_freq=rng.uniform(1.5, 4.0, num_classes),
        role_colours=role_colours,
        building_colours=np.stack([_hsv(hue_lo + 0.5 + rng.uniform(-0.1, 0.1), rng.uniform(0.4, 0.8),
                                        rng.uniform(0.5, 0.9)) for _ in range(4)]),
        paving=float(rng.uniform(1.5, 3.0)),
        strip_windows=True,
    )
