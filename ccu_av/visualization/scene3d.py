"""The 3D picture: open3d geometry specs, a scripted viewpoint, and the rendering subprocess.

open3d renders in a child process (``o3d_child.py``), one route per process (STACK.md): headless
with no ``DISPLAY`` (Mesa's software EGL), or in a window when a display exists.
"""
from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import List, Optional

import numpy as np

from .colors import BACKGROUND, LIDAR_COLOR, radar_colors
from .draw2d import forward_yaw
from .panels import Panel
from .scene import SampleScene

CHILD = Path(__file__).with_name('o3d_child.py')
EXIT_NO_WINDOW = 3          # o3d_child.EXIT_NO_WINDOW (not imported: that would import open3d)
GRAPHICS_PACKAGES = 'libegl1 libgl1 libegl-mesa0 libgl1-mesa-dri libusb-1.0-0'


class HeadlessRenderError(RuntimeError):
    """open3d could not render: no graphics driver, or the rendering process failed."""


def look_from_behind(scene: SampleScene, distance: float = 45.0, elevation_deg: float = 55.0,
                     ahead: float = 5.0) -> tuple:
    """(eye, lookat, up) of a camera behind and above the ego, looking ``ahead`` m in front of it."""
    yaw = forward_yaw(scene)
    forward = np.array([np.cos(yaw), np.sin(yaw), 0.0])
    elevation = np.radians(elevation_deg)
    lookat = forward * ahead
    eye = lookat - forward * distance * np.cos(elevation) + np.array([0, 0, distance * np.sin(elevation)])
    up = forward * np.sin(elevation) + np.array([0.0, 0.0, np.cos(elevation)])
    return eye, lookat, up


def pinhole_camera(eye: np.ndarray, lookat: np.ndarray, up: np.ndarray, width: int, height: int,
                   fov_deg: float = 60.0) -> tuple:
    """(intrinsic (3, 3), extrinsic (4, 4) world->camera), OpenCV axes (x right, y down, z ahead)."""
    z = (lookat - eye) / np.linalg.norm(lookat - eye)
    x = np.cross(z, up)
    x /= np.linalg.norm(x)
    y = np.cross(z, x)
    extrinsic = np.eye(4)
    extrinsic[:3, :3] = np.stack([x, y, z])
    extrinsic[:3, 3] = -extrinsic[:3, :3] @ eye
    focal = width / 2 / np.tan(np.radians(fov_deg) / 2)
    # open3d's legacy view control asks for the principal point at the pixel grid's centre.
    intrinsic = np.array([[focal, 0, width / 2 - 0.5], [0, focal, height / 2 - 0.5], [0, 0, 1]])
    return intrinsic, extrinsic


def panel_spec(scene: SampleScene, panel: Panel, index: int, color_by: str,
               velocity_dt: float) -> dict:
    """The arrays of one panel (see ``o3d_child`` for the keys): points, boxes, segments."""
    radar = scene.radar
    lidar = scene.lidar_xyz if scene.lidar_xyz is not None else np.zeros((0, 3))
    rcolors = radar_colors(radar.sensor, radar.rcs, color_by)
    centers, rotations, extents, box_colors, segments, seg_colors = [], [], [], [], [], []
    for layer in panel.layers:
        boxes = layer.boxes.boxes                               # (K, 7)
        corners = layer.boxes.corners()                          # (K, 8, 3)
        for box, box_corners, color in zip(boxes, corners, layer.colors):
            x, y, z, length, width, height, yaw = box
            centers.append([x, y, z + height / 2])
            rotations.append([[np.cos(yaw), -np.sin(yaw), 0], [np.sin(yaw), np.cos(yaw), 0], [0, 0, 1]])
            extents.append([length, width, height])
            box_colors.append(color)
            segments += [box_corners[[0, 2]], box_corners[[1, 3]]]   # heading cross, front face
            seg_colors += [color, color]
    velocity_end = radar.xyz.copy()
    velocity_end[:, :2] += radar.velocity * velocity_dt
    segments = np.concatenate([np.array(segments).reshape(-1, 2, 3),
                               np.stack([radar.xyz, velocity_end], axis=1)])    # (S, 2, 3)
    key = f'p{index}_'
    return {
        key + 'points': np.concatenate([lidar, radar.xyz]),
        key + 'point_colors': np.concatenate([np.tile(LIDAR_COLOR, (len(lidar), 1)), rcolors]) / 255.0,
        key + 'box_center': np.array(centers).reshape(-1, 3),
        key + 'box_rotation': np.array(rotations).reshape(-1, 3, 3),
        key + 'box_extent': np.array(extents).reshape(-1, 3),
        key + 'box_color': np.array(box_colors).reshape(-1, 3) / 255.0,
        key + 'segments': segments,
        key + 'segment_colors': np.concatenate([np.array(seg_colors).reshape(-1, 3), rcolors]) / 255.0,
    }


def scene_spec(scene: SampleScene, panels: List[Panel], color_by: str = 'sensor',
               width: int = 960, height: int = 720, point_size: float = 3.0,
               velocity_dt: float = 0.5) -> dict:
    """Everything ``o3d_child`` needs to draw the panels from the scripted viewpoint."""
    intrinsic, extrinsic = pinhole_camera(*look_from_behind(scene), width, height)
    spec = dict(width=np.array(width), height=np.array(height), point_size=np.array(point_size),
                background=BACKGROUND / 255.0, intrinsic=intrinsic, extrinsic=extrinsic,
                num_panels=np.array(len(panels)))
    for i, panel in enumerate(panels):
        spec.update(panel_spec(scene, panel, i, color_by, velocity_dt))
    return spec


def _run_child(spec: dict, env: dict, timeout: Optional[float], interactive: bool = False) -> tuple:
    """Run ``o3d_child`` on the spec; (the finished process, its picture or None)."""
    with tempfile.TemporaryDirectory(prefix='ccu_av_o3d_') as tmp:
        spec_path = os.path.join(tmp, 'spec.npz')
        np.savez(spec_path, **spec)
        out_path = os.path.join(tmp, 'picture.npy')
        cmd = [sys.executable, str(CHILD), spec_path] + (['--interactive'] if interactive else [out_path])
        try:
            proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as err:
            raise HeadlessRenderError(f'open3d rendering did not finish within {timeout} s.') from err
        picture = np.load(out_path) if proc.returncode == 0 and os.path.isfile(out_path) else None
        return proc, picture


def render_3d(spec: dict, timeout: float = 300.0) -> np.ndarray:
    """Render the spec off-screen in a child process; (H, W * panels, 3) uint8 RGB.

    Raises:
        HeadlessRenderError: no usable graphics driver (names the Debian packages to install),
            or the child failed (its error output is quoted).
    """
    env = {k: v for k, v in os.environ.items() if k not in ('DISPLAY', 'WAYLAND_DISPLAY')}
    proc, picture = _run_child(spec, env, timeout)
    if proc.returncode == EXIT_NO_WINDOW:
        raise HeadlessRenderError(
            'open3d could not open an off-screen window: no OpenGL/EGL driver was found. On Debian '
            f'or Ubuntu install {GRAPHICS_PACKAGES} (apt-get install), then retry.')
    if picture is None:
        raise HeadlessRenderError(
            f'the open3d rendering process failed (exit {proc.returncode}); if open3d cannot load '
            f'its libraries, install {GRAPHICS_PACKAGES}. Its output ends with:\n'
            f'{proc.stderr[-2000:]}')
    return picture


def show_3d(spec: dict) -> None:
    """Open each panel in an interactive open3d window (blocks until the windows are closed)."""
    if not os.environ.get('DISPLAY') and not os.environ.get('WAYLAND_DISPLAY'):
        raise HeadlessRenderError('no display (DISPLAY is unset): cannot open an interactive window.')
    proc, _ = _run_child(spec, dict(os.environ), None, interactive=True)
    if proc.returncode != 0:
        raise HeadlessRenderError(f'the open3d window failed (exit {proc.returncode}): '
                                  f'{proc.stderr[-2000:]}')
