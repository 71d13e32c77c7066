"""Pictures of nuScenes samples: radar, lidar, ground-truth and predicted boxes, in BEV, on the
six cameras, and in 3D with open3d (headless or in a window).

``render_sample(dataroot, version, sample_token, out_dir, predictions=...)`` is the entry point;
``ccu_av.visualization.predict`` (not imported here: it loads mmdet3d's models) turns a config
and checkpoint into boxes for it.
"""
from .boxes import CLASS_COLORS, CLASS_NAMES, BoxSet, load_submission, submission_boxes
from .panels import LAYOUTS, Panel, make_panels
from .render import PICTURES, prediction_boxes, render_sample, render_scene
from .scene import (SampleScene, load_sample_scene, open_nuscenes, resolve_sample_token)
from .scene3d import HeadlessRenderError

__all__ = [
    'CLASS_COLORS', 'CLASS_NAMES', 'BoxSet', 'load_submission', 'submission_boxes', 'LAYOUTS',
    'Panel', 'make_panels', 'PICTURES', 'prediction_boxes', 'render_sample', 'render_scene',
    'SampleScene', 'load_sample_scene', 'open_nuscenes', 'resolve_sample_token',
    'HeadlessRenderError'
]
