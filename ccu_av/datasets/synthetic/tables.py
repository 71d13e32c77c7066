"""The nuScenes tables: tokens, the static tables, map masks and the JSON files.

Field lists follow the devkit's ``docs/schema_nuscenes.md``.
"""
import json
import os
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

from .geometry import matrix_quaternion
from .rig import Sensor
from .taxonomy import ATTRIBUTES, CATEGORIES, VISIBILITIES

TABLE_NAMES = ('category', 'attribute', 'visibility', 'instance', 'sensor', 'calibrated_sensor', 'ego_pose', 'log',
               'scene', 'sample', 'sample_data', 'sample_annotation', 'map')
MAP_SIZE_M = 400.0
MAP_RESOLUTION = 0.1  # metres per pixel, the devkit's native map resolution


class Tokens:
    """Deterministic 32-hex-digit tokens drawn from a seeded generator."""

    def __init__(self, seed_sequence: np.random.SeedSequence):
        self._rng = np.random.default_rng(seed_sequence)

    def __call__(self) -> str:
        return self._rng.bytes(16).hex()


def static_tables(tokens: Tokens, rig: Dict[str, Sensor]) -> Dict[str, List[dict]]:
    """category, attribute, visibility and sensor records."""
    return dict(
        category=[dict(token=tokens(), name=n, description=d) for n, d in CATEGORIES],
        attribute=[dict(token=tokens(), name=n, description=d) for n, d in ATTRIBUTES],
        visibility=[dict(token=t, level=lv, description=d) for t, lv, d in VISIBILITIES],
        sensor=[dict(token=tokens(), channel=s.channel, modality=s.modality) for s in rig.values()],
    )


def calibrated_sensor_records(tokens: Tokens, rig: Dict[str, Sensor], sensor_tokens: Dict[str, str]) -> \
        Tuple[List[dict], Dict[str, str]]:
    """One calibrated_sensor record per sensor (of one log) and their tokens by channel."""
    records, by_channel = [], {}
    for channel, sensor in rig.items():
        token = tokens()
        records.append(dict(
            token=token, sensor_token=sensor_tokens[channel],
            translation=[float(v) for v in sensor.sensor2ego[:3, 3]],
            rotation=matrix_quaternion(sensor.sensor2ego[:3, :3]),
            camera_intrinsic=sensor.intrinsic.tolist() if sensor.intrinsic is not None else []))
        by_channel[channel] = token
    return records, by_channel


def draw_map_mask(path: str, roads: Sequence[np.ndarray]) -> None:
    """Write a semantic-prior mask PNG: 255 on each road polygon (drivable surface and sidewalks).

    Args:
        roads: (4, 2) global xy corners of each road.
    """
    size = int(round(MAP_SIZE_M / MAP_RESOLUTION))
    image = Image.new('L', (size, size), 0)
    draw = ImageDraw.Draw(image)
    for corners in roads:
        # the devkit maps global (x, y) to pixel (x / res, size - y / res)
        pixels = [(float(x / MAP_RESOLUTION), float(size - y / MAP_RESOLUTION)) for x, y in corners]
        draw.polygon(pixels, fill=255)
    image.save(path)


def write_tables(table_dir: str, tables: Dict[str, List[dict]]) -> None:
    """Write every table as ``<name>.json``."""
    missing = [name for name in TABLE_NAMES if name not in tables]
    if missing:
        raise ValueError(f'cannot write nuScenes tables to {table_dir}: missing {missing}')
    for name in TABLE_NAMES:
        with open(os.path.join(table_dir, f'{name}.json'), 'w') as f:
            json.dump(tables[name], f, indent=0)
