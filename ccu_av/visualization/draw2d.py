"""Bird's-eye view and camera pictures of a sample, drawn with OpenCV on (H, W, 3) uint8 RGB.

Lines are drawn without anti-aliasing (``cv2.LINE_8``), so every box pixel carries exactly its
box's colour: the pictures can be checked pixel by pixel.
"""
from __future__ import annotations

from typing import List, Sequence

import cv2
import numpy as np
from nuscenes.utils.geometry_utils import view_points

from .boxes import BOTTOM_FACE, BOX_EDGES
from .colors import BACKGROUND, GRID_COLOR, LIDAR_COLOR, TEXT_COLOR, radar_colors
from .image_io import read_rgb
from .panels import Panel
from .scene import CAMERAS, CameraView, SampleScene

MIN_DEPTH = 0.5             # m: points and box corners nearer the camera plane are not projected
MOSAIC_ORDER = ('CAM_FRONT_LEFT', 'CAM_FRONT', 'CAM_FRONT_RIGHT',
                'CAM_BACK_LEFT', 'CAM_BACK', 'CAM_BACK_RIGHT')   # as seen from the driver's seat


def _color(rgb) -> tuple:
    return tuple(int(c) for c in rgb)


def _text(img: np.ndarray, text: str, origin: tuple, scale: float = 0.6) -> None:
    cv2.putText(img, text, origin, cv2.FONT_HERSHEY_SIMPLEX, scale, _color(TEXT_COLOR), 1, cv2.LINE_8)


def _font_scale(width: int) -> float:
    """Text that fits pictures from 160 to 1600 pixels wide."""
    return float(np.clip(width / 1000, 0.3, 0.6))


def forward_yaw(scene: SampleScene) -> float:
    """Angle of the ego's forward axis in the LIDAR_TOP frame (radians from its x axis)."""
    forward = np.linalg.inv(scene.lidar2ego)[:3, :3] @ np.array([1.0, 0.0, 0.0])
    return float(np.arctan2(forward[1], forward[0]))


class BevProjection:
    """LIDAR_TOP x, y to BEV pixels: ego at the centre, ego forward pointing up.

    Args:
        scene: gives the ego's forward direction.
        bev_range: metres shown on each side of the ego.
        pixels_per_m: resolution.
    """

    def __init__(self, scene: SampleScene, bev_range: float = 50.0, pixels_per_m: float = 8.0):
        if bev_range <= 0 or pixels_per_m <= 0:
            raise ValueError(f'bev_range and pixels_per_m must be positive, got {bev_range}, '
                             f'{pixels_per_m}.')
        angle = np.pi / 2 - forward_yaw(scene)      # turns ego forward onto +y
        self.rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
        self.pixels_per_m = pixels_per_m
        self.size = int(round(2 * bev_range * pixels_per_m))

    def __call__(self, xy: np.ndarray) -> np.ndarray:
        """(P, 2) metres -> (P, 2) float pixels (column, row)."""
        turned = xy @ self.rotation.T                # (P, 2), forward = +y, right = +x
        centre = self.size / 2
        return np.stack([centre + turned[:, 0] * self.pixels_per_m,
                         centre - turned[:, 1] * self.pixels_per_m], axis=1)


def draw_bev(scene: SampleScene, panel: Panel, color_by: str = 'sensor',
             bev_range: float = 50.0, pixels_per_m: float = 8.0,
             velocity_dt: float = 0.5) -> np.ndarray:
    """(S, S, 3) uint8 BEV: range rings, lidar, radar with velocity segments, the panel's boxes.

    Radar velocity is drawn as the segment a point covers in ``velocity_dt`` seconds.
    """
    proj = BevProjection(scene, bev_range, pixels_per_m)
    size = proj.size
    img = np.empty((size, size, 3), dtype=np.uint8)
    img[:] = BACKGROUND
    for ring in range(10, int(bev_range * 1.5) + 1, 10):      # rings every 10 m
        cv2.circle(img, (size // 2, size // 2), int(round(ring * pixels_per_m)), _color(GRID_COLOR), 1)
    if scene.lidar_xyz is not None:
        uv = np.floor(proj(scene.lidar_xyz[:, :2])).astype(np.int64)
        inside = ((uv >= 0) & (uv < size)).all(axis=1)
        img[uv[inside, 1], uv[inside, 0]] = LIDAR_COLOR
    _draw_radar_bev(img, scene, proj, color_by, velocity_dt)
    for layer in panel.layers:
        corners = layer.boxes.corners()                      # (K, 8, 3)
        for box_corners, color in zip(corners, layer.colors):
            bottom = proj(box_corners[list(BOTTOM_FACE), :2])   # (4, 2), front edge first
            pts = np.round(bottom).astype(np.int32)
            cv2.polylines(img, [pts], True, _color(color), layer.thickness, cv2.LINE_8)
            centre, front = bottom.mean(axis=0), bottom[:2].mean(axis=0)
            cv2.line(img, _pixel(centre), _pixel(front), _color(color), layer.thickness, cv2.LINE_8)
    ego = np.array([[0, -8], [-5, 6], [5, 6]]) + size // 2   # a triangle pointing forward
    cv2.fillPoly(img, [ego.astype(np.int32)], _color(TEXT_COLOR))
    _text(img, panel.title, (8, 22))
    return img


def _pixel(uv: np.ndarray) -> tuple:
    return int(round(uv[0])), int(round(uv[1]))


def _draw_radar_bev(img: np.ndarray, scene: SampleScene, proj: BevProjection, color_by: str,
                    velocity_dt: float) -> None:
    radar = scene.radar
    colors = radar_colors(radar.sensor, radar.rcs, color_by)
    start = proj(radar.xyz[:, :2])
    end = proj(radar.xyz[:, :2] + radar.velocity * velocity_dt)
    for a, b, color in zip(start, end, colors):
        cv2.line(img, _pixel(a), _pixel(b), _color(color), 1, cv2.LINE_8)
        cv2.circle(img, _pixel(a), 2, _color(color), -1, cv2.LINE_8)


def draw_camera(scene: SampleScene, view: CameraView, panel: Panel, color_by: str = 'sensor',
                scale: float = 0.5) -> np.ndarray:
    """One camera image scaled by ``scale`` with lidar, radar and the panel's boxes projected.

    A camera whose image file is absent (e.g. erased after a takedown) is drawn on grey.
    """
    width, height = int(round(view.width * scale)), int(round(view.height * scale))
    image = read_rgb(view.img_path)
    if image is None:
        img = np.full((height, width, 3), 90, dtype=np.uint8)
        _text(img, 'image absent', (8, height // 2))
    else:
        img = cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)
    intrinsic = view.intrinsic.copy()
    intrinsic[:2] *= scale
    if scene.lidar_xyz is not None:
        uv, _ = _project(scene.lidar_xyz, view, intrinsic, width, height)
        img[uv[:, 1], uv[:, 0]] = LIDAR_COLOR
    uv, keep = _project(scene.radar.xyz, view, intrinsic, width, height)
    for point, color in zip(uv, radar_colors(scene.radar.sensor, scene.radar.rcs, color_by)[keep]):
        cv2.circle(img, (int(point[0]), int(point[1])), 3, _color(color), -1, cv2.LINE_8)
    for layer in panel.layers:
        for box_corners, color in zip(layer.boxes.corners(), layer.colors):
            _draw_box_in_camera(img, box_corners, view, intrinsic, _color(color), layer.thickness)
    _text(img, view.channel, (4, 4 + int(30 * _font_scale(width))), _font_scale(width))
    return img


def _to_camera(xyz: np.ndarray, view: CameraView) -> np.ndarray:
    """(P, 3) LIDAR_TOP -> (3, P) camera frame."""
    return view.lidar2cam[:3, :3] @ xyz.T + view.lidar2cam[:3, 3:]


def _project(xyz: np.ndarray, view: CameraView, intrinsic: np.ndarray, width: int,
             height: int) -> tuple:
    """Integer pixels (M, 2) of the points in front of the camera and inside the image, and the
    (P,) mask of those points."""
    cam = _to_camera(xyz, view)                                   # (3, P)
    uv = view_points(cam, intrinsic, normalize=True)[:2].T        # (P, 2)
    keep = (cam[2] > MIN_DEPTH) & (uv[:, 0] >= 0) & (uv[:, 0] < width) & \
        (uv[:, 1] >= 0) & (uv[:, 1] < height)
    return np.floor(uv[keep]).astype(np.int64), keep


def _draw_box_in_camera(img: np.ndarray, corners: np.ndarray, view: CameraView,
                        intrinsic: np.ndarray, color: tuple, thickness: int) -> None:
    """A box's 12 edges and heading cross, if it lies wholly in front of the camera and some
    corner falls inside the image (a box crossing the camera plane has no sound projection)."""
    cam = _to_camera(corners, view)                               # (3, 8)
    if (cam[2] <= MIN_DEPTH).any():
        return
    uv = view_points(cam, intrinsic, normalize=True)[:2].T        # (8, 2)
    height, width = img.shape[:2]
    if not ((uv[:, 0] >= 0) & (uv[:, 0] < width) & (uv[:, 1] >= 0) & (uv[:, 1] < height)).any():
        return
    for a, b in BOX_EDGES:
        cv2.line(img, _pixel(uv[a]), _pixel(uv[b]), color, thickness, cv2.LINE_8)


TITLE_BAR = 24                  # pixels above each panel's camera mosaic, for its title


def camera_mosaic(images: Sequence[np.ndarray], channels: Sequence[str], title: str) -> np.ndarray:
    """The camera pictures of one panel on a grid of three columns, in ``MOSAIC_ORDER``, under
    a ``TITLE_BAR`` holding the panel's title."""
    order = [c for c in MOSAIC_ORDER if c in channels] + [c for c in channels if c not in MOSAIC_ORDER]
    by_name = dict(zip(channels, images))
    cell_h = max(img.shape[0] for img in images)
    cell_w = max(img.shape[1] for img in images)
    rows = -(-len(order) // 3)
    mosaic = np.zeros((TITLE_BAR + rows * cell_h, 3 * cell_w, 3), dtype=np.uint8)
    _text(mosaic, title, (4, TITLE_BAR - 6), 0.5)
    for i, name in enumerate(order):
        img = by_name[name]
        top, left = TITLE_BAR + (i // 3) * cell_h, (i % 3) * cell_w
        mosaic[top:top + img.shape[0], left:left + img.shape[1]] = img
    return mosaic


def draw_cameras(scene: SampleScene, panels: List[Panel], color_by: str = 'sensor',
                 scale: float = 0.5) -> np.ndarray:
    """All cameras of all panels: one mosaic per panel, stacked top to bottom."""
    if not scene.cameras:
        raise ValueError(f'sample {scene.sample_token} has no camera (expected {CAMERAS}).')
    channels = [view.channel for view in scene.cameras]
    mosaics = [camera_mosaic([draw_camera(scene, view, panel, color_by, scale)
                              for view in scene.cameras], channels, panel.title)
               for panel in panels]
    return np.concatenate(mosaics, axis=0)
