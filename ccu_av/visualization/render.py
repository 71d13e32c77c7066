"""Pictures of one nuScenes sample: bird's-eye view, six cameras, and the open3d 3D view."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Dict, Mapping, Optional, Union

import numpy as np
from mmengine.logging import MMLogger

from .boxes import BoxSet, load_submission, submission_boxes
from .draw2d import draw_bev, draw_cameras
from .image_io import write_png
from .panels import make_panels
from .scene import SampleScene, load_sample_scene, open_nuscenes, resolve_sample_token
from .scene3d import render_3d, scene_spec, show_3d

PredictionSource = Union[BoxSet, str, Path, Mapping]
PICTURES = ('bev', 'cameras', 'scene3d')
SUFFIXES = dict(bev='bev', cameras='cameras', scene3d='3d')   # of the PNG file names


def prediction_boxes(scene: SampleScene, source: PredictionSource) -> BoxSet:
    """Boxes of ``scene``'s sample from a ``BoxSet`` (LIDAR_TOP frame) or a nuScenes submission
    (a JSON path or its dict; global frame)."""
    if isinstance(source, BoxSet):
        return source
    return submission_boxes(load_submission(source), scene.sample_token, scene.global2lidar)


def render_scene(scene: SampleScene, out_dir: Union[str, Path],
                 predictions: Optional[Mapping[str, PredictionSource]] = None,
                 show_gt: bool = True, layout: str = 'side_by_side', color_by: str = 'sensor',
                 score_thr: float = 0.3, bev_range: float = 50.0, pixels_per_m: float = 8.0,
                 camera_scale: float = 0.5, size_3d: tuple = (960, 720),
                 pictures: tuple = PICTURES, interactive: bool = False) -> Dict[str, Path]:
    """Draw a loaded sample into ``out_dir``; returns {picture name: PNG path}.

    Args:
        predictions: name -> boxes (e.g. ``{'original': ..., 'unlearned': ...}``); boxes scoring
            under ``score_thr`` are left out.
        layout: ``side_by_side`` (a panel per box source) or ``overlay`` (one panel).
        color_by: radar points coloured by ``sensor`` or by ``rcs``.
        pictures: which of ``bev``, ``cameras``, ``scene3d`` to write.
        interactive: also open the 3D view in a window (needs a display).
    """
    unknown = set(pictures) - set(PICTURES)
    if unknown:
        raise ValueError(f'unknown pictures {sorted(unknown)}; choose from {PICTURES}.')
    preds = {name: prediction_boxes(scene, src).above(score_thr)
             for name, src in (predictions or {}).items()}
    panels = make_panels(scene.gt if show_gt else None, preds, layout)
    pictures_rgb = {}
    if 'scene3d' in pictures or interactive:
        spec = scene_spec(scene, panels, color_by, *size_3d)
        if 'scene3d' in pictures:       # first: the likeliest to fail (no graphics driver)
            pictures_rgb['scene3d'] = render_3d(spec)
        if interactive:
            show_3d(spec)
    if 'bev' in pictures:
        pictures_rgb['bev'] = _side_by_side(
            [draw_bev(scene, panel, color_by, bev_range, pixels_per_m) for panel in panels])
    if 'cameras' in pictures:
        pictures_rgb['cameras'] = draw_cameras(scene, panels, color_by, camera_scale)
    # written only once every picture is drawn: a failure leaves no partial set behind
    stem = Path(out_dir) / f'{scene.scene_name}_{scene.sample_token}'
    paths = {name: write_png(f'{stem}_{SUFFIXES[name]}.png', rgb)
             for name, rgb in sorted(pictures_rgb.items())}
    MMLogger.get_current_instance().info(
        f'sample {scene.sample_token}: ' + ', '.join(f'{k} -> {v}' for k, v in paths.items()))
    return paths


def _side_by_side(images: list) -> np.ndarray:
    """Pictures of equal height left to right, 4 black pixels apart."""
    gap = np.zeros((images[0].shape[0], 4, 3), dtype=np.uint8)
    parts = [images[0]]
    for img in images[1:]:
        parts += [gap, img]
    return np.concatenate(parts, axis=1)


def render_sample(dataroot: Union[str, Path], version: str, sample_token: str,
                  out_dir: Union[str, Path], predictions: Optional[Mapping[str, PredictionSource]] = None,
                  num_sweeps: int = 5, interactive: Optional[bool] = None,
                  **options) -> Dict[str, Path]:
    """Read a sample from a nuScenes dataroot and draw it; returns {picture name: PNG path}.

    ``interactive=None`` opens a window when a display exists. Other keyword options are those
    of ``render_scene``.
    """
    if interactive is None:
        interactive = bool(os.environ.get('DISPLAY'))
    nusc = open_nuscenes(str(dataroot), version)
    scene = load_sample_scene(nusc, resolve_sample_token(nusc, sample_token), num_sweeps)
    return render_scene(scene, out_dir, predictions, interactive=interactive, **options)
