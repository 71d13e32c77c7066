"""Which boxes go into which picture: one panel per box source, or all sources in one panel."""
from __future__ import annotations

from dataclasses import dataclass
from typing import List, Mapping, Optional

import numpy as np

from .boxes import BoxSet
from .colors import box_colors

LAYOUTS = ('side_by_side', 'overlay')


@dataclass
class BoxLayer:
    """Boxes of one source as drawn: (K, 3) uint8 colours and a 2D line thickness in pixels."""
    boxes: BoxSet
    colors: np.ndarray
    thickness: int


@dataclass
class Panel:
    """One picture of the sample: a title and the box layers drawn over the points."""
    title: str
    layers: List[BoxLayer]


def make_panels(gt: Optional[BoxSet], predictions: Mapping[str, BoxSet],
                layout: str = 'side_by_side') -> List[Panel]:
    """Panels for ground truth (None: not drawn) and named predictions.

    ``side_by_side``: one panel per source, every box in its class colour. ``overlay``: one panel;
    ground truth in class colours, thick; each prediction source thinner, its class colours mixed
    with the source's tint (``colors.OVERLAY_TINTS``: first white, second black).
    """
    if layout not in LAYOUTS:
        raise ValueError(f'layout must be one of {LAYOUTS}, got {layout!r}.')
    sources = ([('ground truth', gt)] if gt is not None else []) + list(predictions.items())
    if not sources:
        return [Panel('points only', [])]
    if layout == 'side_by_side':
        return [Panel(name, [BoxLayer(boxes, box_colors(boxes.labels, 0, False), 2)])
                for name, boxes in sources]
    offset = 0 if gt is not None else 1     # predictions are always tinted when overlaid
    layers = [BoxLayer(boxes, box_colors(boxes.labels, i + offset, True),
                       2 if i + offset == 0 else 1)
              for i, (name, boxes) in enumerate(sources)]
    return [Panel(' + '.join(name for name, _ in sources), layers)]
