"""Colours shared by the 2D and 3D pictures (RGB, uint8)."""
from __future__ import annotations

import numpy as np
from matplotlib import colormaps

from .boxes import CLASS_COLORS

BACKGROUND = np.array((24, 24, 24), dtype=np.uint8)
LIDAR_COLOR = np.array((150, 150, 150), dtype=np.uint8)
GRID_COLOR = np.array((60, 60, 60), dtype=np.uint8)
TEXT_COLOR = np.array((235, 235, 235), dtype=np.uint8)
# Pale colours, one per radar (in scene.RADARS order), apart from the saturated box colours.
RADAR_COLORS = np.array([
    (255, 255, 255),    # RADAR_FRONT: white
    (170, 255, 195),    # RADAR_FRONT_LEFT: mint
    (255, 215, 180),    # RADAR_FRONT_RIGHT: apricot
    (220, 190, 255),    # RADAR_BACK_LEFT: lavender
    (255, 250, 140),    # RADAR_BACK_RIGHT: pale yellow
], dtype=np.uint8)
RCS_RANGE = (-10.0, 30.0)       # dBsm mapped onto the colour map's ends
RCS_COLORMAP = 'plasma'
# How the boxes of the second and later box sources are told apart when drawn over each other:
# each source's class colour is mixed half-and-half with its tint (ground truth stays pure).
OVERLAY_TINTS = np.array([(255, 255, 255), (0, 0, 0), (128, 128, 128)], dtype=np.float64)

COLOR_MODES = ('sensor', 'rcs')


def radar_colors(sensor: np.ndarray, rcs: np.ndarray, color_by: str) -> np.ndarray:
    """(P, 3) uint8 colours of radar points, by ``'sensor'`` or by ``'rcs'``."""
    if color_by == 'sensor':
        return RADAR_COLORS[sensor % len(RADAR_COLORS)]
    if color_by == 'rcs':
        lo, hi = RCS_RANGE
        unit = np.clip((rcs - lo) / (hi - lo), 0.0, 1.0)
        return (colormaps[RCS_COLORMAP](unit)[:, :3] * 255).round().astype(np.uint8)
    raise ValueError(f'color_by must be one of {COLOR_MODES}, got {color_by!r}.')


def box_colors(labels: np.ndarray, source: int, overlay: bool) -> np.ndarray:
    """(K, 3) uint8 colours: the class colour, tinted per source when sources are overlaid.

    Source 0 is the first box set drawn (ground truth when there is some).
    """
    colors = CLASS_COLORS[labels].astype(np.float64)
    if overlay and source > 0:
        tint = OVERLAY_TINTS[(source - 1) % len(OVERLAY_TINTS)]
        colors = (colors + tint) / 2
    return colors.round().astype(np.uint8)
