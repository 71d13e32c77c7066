"""Reading camera images and writing pictures whole (temporary name, then rename)."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Optional, Union

import cv2
import numpy as np

from ..utils import atomic_write


def write_png(path: Union[str, Path], rgb: np.ndarray) -> Path:
    """Write an (H, W, 3) uint8 RGB picture to ``path``; a reader never sees it half-written.

    PNG encoding by OpenCV stores no time stamp, so the same pixels give the same bytes.
    """
    path = Path(path)
    if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
        raise ValueError(f'{path}: expected an (H, W, 3) uint8 picture, got {rgb.shape} {rgb.dtype}.')
    ok, data = cv2.imencode('.png', np.ascontiguousarray(rgb[..., ::-1]))
    if not ok:
        raise RuntimeError(f'OpenCV could not encode {path} as PNG.')
    atomic_write(path, data.tobytes())
    return path


def read_rgb(path: str) -> Optional[np.ndarray]:
    """An image file as (H, W, 3) uint8 RGB, or None when it is absent (e.g. erased footage)."""
    if not os.path.isfile(path):
        return None
    bgr = cv2.imread(path, cv2.IMREAD_COLOR)
    if bgr is None:
        raise ValueError(f'camera image {path} exists but cannot be decoded as an image.')
    return bgr[..., ::-1].copy()
