"""Boxes to draw: one small container for ground truth and predictions, whatever their source.

Every box here is in the sample's LIDAR_TOP frame at the key frame, in mmdet3d's convention
(docs/data_format.md): ``(x, y, z_bottom, l, w, h, yaw)`` with yaw measured from the x axis.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Optional, Sequence, Union

import numpy as np
from nuscenes.utils.data_classes import Box
from pyquaternion import Quaternion

CLASS_NAMES = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle',
               'bicycle', 'pedestrian', 'traffic_cone')

# One saturated colour per detection class (RGB), chosen to stay apart from the pale radar
# colours and the grey lidar points, so a box can be told from the points it encloses.
CLASS_COLORS = np.array([
    (230, 25, 75),    # car: red
    (60, 180, 75),    # truck: green
    (255, 225, 25),   # construction_vehicle: yellow
    (0, 130, 200),    # bus: blue
    (245, 130, 48),   # trailer: orange
    (145, 30, 180),   # barrier: purple
    (70, 240, 240),   # motorcycle: cyan
    (240, 50, 230),   # bicycle: magenta
    (210, 245, 60),   # pedestrian: lime
    (128, 0, 0),      # traffic_cone: maroon
], dtype=np.uint8)

# Edges of the 8 corners returned by ``Box.corners()``: corners 0-3 are the front face (+x of
# the box), 4-7 the rear face; the front face's two diagonals mark the heading.
BOX_EDGES = np.array([
    (0, 1), (1, 2), (2, 3), (3, 0),      # front face
    (4, 5), (5, 6), (6, 7), (7, 4),      # rear face
    (0, 4), (1, 5), (2, 6), (3, 7),      # sides
    (0, 2), (1, 3),                      # heading cross on the front face
], dtype=np.int64)
BOTTOM_FACE = (2, 3, 7, 6)              # bottom corners in drawing order (front-right first)


@dataclass
class BoxSet:
    """K boxes in the LIDAR_TOP frame with their class labels and, for predictions, scores.

    Attributes:
        boxes: (K, 7) float64 ``x, y, z_bottom, l, w, h, yaw``.
        labels: (K,) int64 indices into ``CLASS_NAMES``.
        scores: (K,) float64, or None for ground truth.
        velocity: (K, 2) float64 ``vx, vy`` in the LIDAR_TOP frame, or None.
    """
    boxes: np.ndarray
    labels: np.ndarray
    scores: Optional[np.ndarray] = None
    velocity: Optional[np.ndarray] = field(default=None)

    def __post_init__(self):
        self.boxes = np.asarray(self.boxes, dtype=np.float64).reshape(-1, 7)
        self.labels = np.asarray(self.labels, dtype=np.int64).reshape(-1)
        num = len(self.boxes)
        if len(self.labels) != num:
            raise ValueError(f'BoxSet: got {num} boxes but {len(self.labels)} labels.')
        bad = (self.labels < 0) | (self.labels >= len(CLASS_NAMES))
        if bad.any():
            raise ValueError(f'BoxSet: labels must lie in [0, {len(CLASS_NAMES)}) '
                             f'(the classes {CLASS_NAMES}); got {self.labels[bad].tolist()}.')
        if self.scores is not None:
            self.scores = np.asarray(self.scores, dtype=np.float64).reshape(-1)
            if len(self.scores) != num:
                raise ValueError(f'BoxSet: got {num} boxes but {len(self.scores)} scores.')
        if self.velocity is not None:
            self.velocity = np.asarray(self.velocity, dtype=np.float64).reshape(num, 2)

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def from_any(cls, boxes: Any, labels: Any, scores: Any = None) -> 'BoxSet':
        """Build from a (K, 7+) array or tensor, or from mmdet3d ``LiDARInstance3DBoxes``.

        A (K, 9) array holds ``vx, vy`` in its last two columns, as mmdet3d's nuScenes boxes do.
        Camera or depth boxes are refused: their axes and yaw differ from the LIDAR_TOP frame.
        """
        if hasattr(boxes, 'tensor'):        # an mmdet3d box structure
            kind = type(boxes).__name__
            if kind != 'LiDARInstance3DBoxes':
                raise TypeError(f'BoxSet.from_any: expected LiDARInstance3DBoxes (boxes in the '
                                f'LIDAR_TOP frame), got {kind}; convert them with '
                                f'.convert_to(Box3DMode.LIDAR) first.')
            boxes = boxes.tensor
        arr = _to_numpy(boxes).astype(np.float64)
        if arr.ndim != 2 or arr.shape[1] < 7:
            raise ValueError(f'BoxSet.from_any: expected boxes of shape (K, 7) or (K, 9), '
                             f'got {arr.shape}.')
        velocity = arr[:, 7:9] if arr.shape[1] >= 9 else None
        return cls(arr[:, :7], _to_numpy(labels),
                   None if scores is None else _to_numpy(scores), velocity)

    def filter(self, keep: np.ndarray) -> 'BoxSet':
        """The boxes where the boolean mask ``keep`` is True."""
        return BoxSet(self.boxes[keep], self.labels[keep],
                      None if self.scores is None else self.scores[keep],
                      None if self.velocity is None else self.velocity[keep])

    def above(self, score_thr: float) -> 'BoxSet':
        """The boxes scoring at least ``score_thr`` (all of them for ground truth)."""
        if self.scores is None:
            return self
        return self.filter(self.scores >= score_thr)

    def corners(self) -> np.ndarray:
        """(K, 8, 3) corners in the devkit's order (0-3 front face, 4-7 rear; see BOX_EDGES)."""
        out = np.zeros((len(self), 8, 3))
        for k, box in enumerate(self.to_devkit()):
            out[k] = box.corners().T
        return out

    def to_devkit(self) -> list:
        """The boxes as nuScenes-devkit ``Box`` objects (gravity centre, size as w, l, h)."""
        result = []
        for x, y, z, length, width, height, yaw in self.boxes:
            result.append(Box([x, y, z + height / 2], [width, length, height],
                              Quaternion(axis=(0.0, 0.0, 1.0), radians=yaw)))
        return result


def _to_numpy(value: Any) -> np.ndarray:
    if hasattr(value, 'detach'):            # a torch tensor, possibly on a GPU
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def load_submission(source: Union[str, Path, Mapping]) -> Mapping[str, Sequence[Mapping]]:
    """The ``results`` mapping of a nuScenes detection submission (a JSON path or its dict)."""
    if isinstance(source, Mapping):
        content, name = source, 'the predictions mapping'
    else:
        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f'predictions file {path} does not exist.')
        try:
            content = json.loads(path.read_text())
        except json.JSONDecodeError as err:
            raise ValueError(f'predictions file {path} is not valid JSON: {err}') from err
        name = str(path)
    if not isinstance(content, Mapping) or not isinstance(content.get('results'), Mapping):
        raise ValueError(f'{name}: expected the nuScenes submission format '
                         f'{{"meta": ..., "results": {{sample_token: [box, ...]}}}}.')
    return content['results']


def submission_boxes(results: Mapping[str, Sequence[Mapping]], sample_token: str,
                     global2lidar: np.ndarray) -> BoxSet:
    """The submission boxes of one sample, moved from the global frame into LIDAR_TOP.

    Args:
        results: ``results`` of a nuScenes submission: sample token -> list of boxes with
            ``translation`` (global gravity centre), ``size`` (w, l, h), ``rotation`` (w, x, y, z
            quaternion), ``velocity`` (vx, vy), ``detection_name`` and ``detection_score``.
        sample_token: the sample to take; a token with no entry gives no boxes.
        global2lidar: (4, 4) transform from the global frame to the key frame's LIDAR_TOP.
    """
    rows, labels, scores, velocity = [], [], [], []
    rot = Quaternion(matrix=global2lidar[:3, :3], atol=1e-6)
    for i, rec in enumerate(results.get(sample_token, [])):
        name = rec.get('detection_name')
        if name not in CLASS_NAMES:
            raise ValueError(f'prediction {i} of sample {sample_token}: detection_name {name!r} '
                             f'is not one of {CLASS_NAMES}.')
        box = Box(rec['translation'], rec['size'], Quaternion(rec['rotation']))
        box.rotate(rot)
        box.translate(global2lidar[:3, 3])
        width, length, height = box.wlh
        rows.append([*box.center[:2], box.center[2] - height / 2, length, width, height,
                     box.orientation.yaw_pitch_roll[0]])
        labels.append(CLASS_NAMES.index(name))
        scores.append(float(rec['detection_score']))
        vel = np.array([*rec.get('velocity', (0.0, 0.0))[:2], 0.0])
        velocity.append((global2lidar[:3, :3] @ vel)[:2])
    return BoxSet(np.array(rows).reshape(-1, 7), labels, scores, np.array(velocity).reshape(-1, 2))
