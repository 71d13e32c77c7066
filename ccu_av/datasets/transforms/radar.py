"""Multi-sweep radar loading: 5 radars x N sweeps, ego-motion compensated, in the LIDAR_TOP frame.

mmdet3d 1.4 has no radar loading transform; this one reads each sweep with the devkit's
``RadarPointCloud.from_file`` and moves it with the ``sensor2lidar`` transform written into the
info file by ``ccu_av.datasets.nuscenes_converter`` (which carries the ego-motion compensation).
"""
import contextlib
import os
from typing import Dict, Iterator, List, Sequence

import numpy as np
from mmcv.transforms import BaseTransform
from mmdet3d.registry import TRANSFORMS
from nuscenes.utils.data_classes import RadarPointCloud

from ..radar_points import RadarPoints

# Field order of a nuScenes radar .pcd (the devkit's RadarPointCloud rows).
RADAR_PCD_FIELDS = ('x', 'y', 'z', 'dyn_prop', 'id', 'rcs', 'vx', 'vy', 'vx_comp', 'vy_comp',
                    'is_quality_valid', 'ambig_state', 'x_rms', 'y_rms', 'invalid_state', 'pdh0',
                    'vx_rms', 'vy_rms')
RADAR_PCD_SIZES = (4, 4, 4, 1, 2, 4, 4, 4, 4, 4, 1, 1, 1, 1, 1, 1, 1, 1)
PCD_HEADER_KEYS = ('#', 'VERSION', 'FIELDS', 'SIZE', 'TYPE', 'COUNT', 'WIDTH', 'HEIGHT', 'VIEWPOINT', 'POINTS',
                   'DATA')
# Velocity pairs that are rotated into the LIDAR_TOP frame with the positions.
VELOCITY_PAIRS = (('vx', 'vy'), ('vx_comp', 'vy_comp'))
DEFAULT_FEATURES = ('x', 'y', 'z', 'rcs', 'vx_comp', 'vy_comp', 'time_lag')
FILTER_MODES = ('default', 'disabled')


@contextlib.contextmanager
def radar_filters(mode: str) -> Iterator[None]:
    """Apply the devkit's class-level radar filters (``default`` or ``disabled``) temporarily.

    ``RadarPointCloud.default_filters()`` / ``disable_filters()`` set global class attributes;
    the previous values are restored on exit so no other reader of radar files is affected.
    """
    if mode not in FILTER_MODES:
        raise ValueError(f'radar filters must be one of {FILTER_MODES}, got {mode!r}')
    saved = (RadarPointCloud.invalid_states, RadarPointCloud.dynprop_states, RadarPointCloud.ambig_states)
    try:
        if mode == 'default':
            RadarPointCloud.default_filters()
        else:
            RadarPointCloud.disable_filters()
        yield
    finally:
        (RadarPointCloud.invalid_states, RadarPointCloud.dynprop_states,
         RadarPointCloud.ambig_states) = saved


def check_radar_pcd(path: str) -> None:
    """Raise ValueError naming ``path`` unless it is a radar .pcd the devkit can read.

    The devkit checks its input with ``assert`` (gone under ``python -O``) and reports a bad file
    without its name, so the header is checked here first.
    """
    if not path.endswith('.pcd'):
        raise ValueError(f'radar file {path}: expected a .pcd file')
    keys, header = [], {}
    with open(path, 'rb') as f:
        for _ in range(len(PCD_HEADER_KEYS)):
            line = f.readline().decode('utf-8', errors='replace').strip()
            key, _, value = line.partition(' ')
            keys.append(key)
            header[key] = value
        payload = len(f.read())
    # the devkit reads WIDTH, HEIGHT and DATA by line number, so the order matters
    if tuple(keys) != PCD_HEADER_KEYS:
        raise ValueError(f'radar file {path}: corrupt .pcd header, expected the lines '
                         f'{" ".join(PCD_HEADER_KEYS)}, got {" ".join(keys)}')
    if tuple(header['FIELDS'].split()) != RADAR_PCD_FIELDS:
        raise ValueError(f'radar file {path}: corrupt .pcd header, expected FIELDS '
                         f'{" ".join(RADAR_PCD_FIELDS)}, got {header["FIELDS"]!r}')
    if header['SIZE'].split() != [str(size) for size in RADAR_PCD_SIZES]:
        raise ValueError(f'radar file {path}: corrupt .pcd header, expected SIZE '
                         f'{" ".join(map(str, RADAR_PCD_SIZES))}, got {header["SIZE"]!r}')
    if header['DATA'] != 'binary' or header['HEIGHT'] != '1':
        raise ValueError(f'radar file {path}: corrupt .pcd header, expected HEIGHT 1 and DATA binary, '
                         f'got HEIGHT {header["HEIGHT"]!r}, DATA {header["DATA"]!r}')
    width = header['WIDTH']
    if not width.isdigit() or int(width) == 0:
        raise ValueError(f'radar file {path}: corrupt .pcd header, expected a positive WIDTH, got {width!r}')
    needed = int(width) * sum(RADAR_PCD_SIZES)
    # the devkit reads a point only while its end lies strictly inside the payload
    if payload <= needed:
        raise ValueError(f'radar file {path}: truncated, WIDTH {width} needs more than {needed} '
                         f'bytes of binary data, found {payload}')


@TRANSFORMS.register_module()
class LoadRadarSweeps(BaseTransform):
    """Load the radar sweeps of a sample into one point set in the key frame's LIDAR_TOP frame.

    Reads ``results['radars']`` ({channel: [sweep, ...]}, newest first; each sweep holds
    ``data_path``, ``timestamp`` (s), ``sensor2lidar_rotation`` (3x3) and
    ``sensor2lidar_translation`` (3)) and ``results['timestamp']`` (s). Writes
    ``results['points']``: ``RadarPoints`` (P, C) with the columns named by ``features``.

    Each sweep's positions are mapped by ``p_lidar = R @ p_sensor + t``, its velocity pairs
    (vx, vy) and (vx_comp, vy_comp) are rotated by R (the radar reports them in its own frame,
    z = 0), and ``time_lag`` is the key frame's timestamp minus the sweep's.

    Args:
        num_sweeps: sweeps per radar, the key frame's own first; fewer are used when the info
            file holds fewer.
        features: columns of the output, x, y, z first, then any radar .pcd field or ``time_lag``.
        filters: ``default`` keeps the devkit's default radar filters, ``disabled`` keeps all returns.
        channels: radars to load, None for every radar in the info file.
    """

    def __init__(self,
                 num_sweeps: int = 6,
                 features: Sequence[str] = DEFAULT_FEATURES,
                 filters: str = 'default',
                 channels: Sequence[str] = None) -> None:
        if num_sweeps < 1:
            raise ValueError(f'num_sweeps must be at least 1, got {num_sweeps}')
        features = tuple(features)
        if features[:3] != ('x', 'y', 'z'):
            raise ValueError(f'radar features must start with x, y, z, got {features}')
        unknown = [name for name in features if name not in RADAR_PCD_FIELDS + ('time_lag',)]
        if unknown:
            raise ValueError(f'unknown radar features {unknown}; expected names from '
                             f'{RADAR_PCD_FIELDS + ("time_lag",)}')
        if filters not in FILTER_MODES:
            raise ValueError(f'radar filters must be one of {FILTER_MODES}, got {filters!r}')
        self.num_sweeps = num_sweeps
        self.features = features
        self.filters = filters
        self.channels = None if channels is None else tuple(channels)

    def _attribute_dims(self) -> Dict[str, object]:
        dims = {name: i for i, name in enumerate(self.features) if i >= 3}
        for key, (vx, vy) in zip(('raw_velocity', 'velocity'), VELOCITY_PAIRS):
            if vx in dims and vy in dims:
                dims[key] = [dims[vx], dims[vy]]
        return dims

    def load_sweep(self, sweep: dict, key_timestamp: float) -> np.ndarray:
        """One sweep as (P, C) features in the key frame's LIDAR_TOP frame."""
        path = sweep['data_path']
        if not os.path.isfile(path):
            raise FileNotFoundError(f'radar file {path} (sample_data {sweep.get("sample_data_token")}) does not exist')
        check_radar_pcd(path)
        rows = RadarPointCloud.from_file(path).points  # (18, P), filtered by the class-level settings
        rotation = np.asarray(sweep['sensor2lidar_rotation'], dtype=np.float64)
        translation = np.asarray(sweep['sensor2lidar_translation'], dtype=np.float64)
        columns = dict(zip(RADAR_PCD_FIELDS, rows))
        # positions: p_lidar = R @ p_sensor + t, for all P points at once
        xyz = rotation @ rows[:3] + translation[:, None]
        columns.update(x=xyz[0], y=xyz[1], z=xyz[2])
        for vx, vy in VELOCITY_PAIRS:
            planar = np.stack([columns[vx], columns[vy], np.zeros_like(columns[vx])])  # (3, P)
            rotated = rotation @ planar
            columns[vx], columns[vy] = rotated[0], rotated[1]
        columns['time_lag'] = np.full(rows.shape[1], key_timestamp - sweep['timestamp'])
        return np.stack([columns[name] for name in self.features], axis=1).astype(np.float32)

    def transform(self, results: dict) -> dict:
        radars: Dict[str, List[dict]] = results['radars']
        channels = self.channels if self.channels is not None else tuple(radars)
        missing = [c for c in channels if c not in radars]
        if missing:
            raise KeyError(f'sample {results.get("token")}: radars {missing} not in the info file '
                           f'(it has {sorted(radars)})')
        parts = [np.zeros((0, len(self.features)), dtype=np.float32)]
        with radar_filters(self.filters):
            for channel in channels:
                for sweep in radars[channel][:self.num_sweeps]:
                    parts.append(self.load_sweep(sweep, results['timestamp']))
        points = np.concatenate(parts, axis=0)  # (P, C)
        results['points'] = RadarPoints(points, points_dim=len(self.features),
                                        attribute_dims=self._attribute_dims())
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(num_sweeps={self.num_sweeps}, features={self.features}, '
                f'filters={self.filters!r}, channels={self.channels})')
