"""Takedown selection: which training samples a privacy takedown flags (forget) and which stay (retain).

A request names scenes (by name or token), logs (by logfile name or token), locations, time
windows (seconds, on the samples' clock) or samples (by token: what a fleet takedown resolves a
geofence to, ``ccu_av.takedown``); a sample is flagged when any criterion matches it, and
with ``whole_scenes`` (the default) every sample of a scene with a flagged sample is flagged, so
the forget and retain sets are sets of whole scenes (``docs/data_format.md``).
"""
import json
import os.path as osp
from dataclasses import asdict, dataclass, fields
from typing import Dict, Iterable, List, Sequence, Tuple, Union

import mmengine
import yaml
from mmengine.logging import MMLogger

from ..utils import atomic_write

RECORD_KEYS = ('token', 'timestamp', 'scene_token', 'scene_name', 'log_token', 'log_name', 'location')


@dataclass(frozen=True)
class TakedownRequest:
    """What a takedown names; any criterion that matches a sample flags it."""
    scenes: Tuple[str, ...] = ()
    logs: Tuple[str, ...] = ()
    locations: Tuple[str, ...] = ()
    time_windows: Tuple[Tuple[float, float], ...] = ()
    whole_scenes: bool = True
    samples: Tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for name in ('scenes', 'logs', 'locations', 'samples'):
            value = getattr(self, name)
            if isinstance(value, str):
                raise TypeError(f'takedown request {name} must be a sequence of strings, got the string {value!r}')
            object.__setattr__(self, name, tuple(value))
        windows = tuple((float(start), float(end)) for start, end in self.time_windows)
        bad = [w for w in windows if w[0] > w[1]]
        if bad:
            raise ValueError(f'takedown request time windows must be (start, end) with start <= end, got {bad}')
        object.__setattr__(self, 'time_windows', windows)
        if not (self.scenes or self.logs or self.locations or self.time_windows or self.samples):
            raise ValueError('takedown request names nothing: give scenes, logs, locations, time_windows '
                             'or samples')

    @classmethod
    def from_dict(cls, request: dict, source: str = 'the takedown request') -> 'TakedownRequest':
        """A request from its fields; an unknown field is an error naming the known ones."""
        known = [f.name for f in fields(cls)]
        unknown = sorted(set(request) - set(known))
        if unknown:
            raise ValueError(f'{source}: unknown keys {unknown}; a takedown request has {known}')
        return cls(**request)

    @classmethod
    def from_file(cls, path: str) -> 'TakedownRequest':
        """A request from a YAML or JSON file holding its fields."""
        if not osp.isfile(path):
            raise FileNotFoundError(f'takedown request file {path} does not exist')
        try:
            request = mmengine.load(path, file_format='json' if path.endswith('.json') else 'yaml')
        except (ValueError, yaml.YAMLError) as error:  # ValueError: json.JSONDecodeError
            raise ValueError(f'takedown request file {path} is not valid YAML/JSON: {error}') from error
        if not isinstance(request, dict):
            raise ValueError(f'takedown request file {path}: expected a mapping of request '
                             f'fields, got {type(request).__name__}')
        return cls.from_dict(request, source=f'takedown request file {path}')

    @classmethod
    def coerce(cls, request: Union['TakedownRequest', dict, str]) -> 'TakedownRequest':
        """A request given as itself, a dict of its fields or the path of a request file."""
        if isinstance(request, cls):
            return request
        if isinstance(request, str):
            return cls.from_file(request)
        if isinstance(request, dict) or hasattr(request, 'to_dict'):
            return cls.from_dict(dict(request))
        raise TypeError(f'a takedown request is a dict of fields or a file path, got {type(request).__name__}')


@dataclass(frozen=True)
class TakedownSelection:
    """The forget and retain sets of a request over one training set."""
    request: TakedownRequest
    forget_tokens: Tuple[str, ...]
    retain_tokens: Tuple[str, ...]
    forget_scenes: Tuple[str, ...]
    retain_scenes: Tuple[str, ...]
    source: str = ''

    def dump(self, out_dir: str) -> Dict[str, str]:
        """Write selection.json, forget_tokens.json and retain_tokens.json (each atomically).

        The token files are JSON lists that ``CamRadarNuScenesDataset(sample_tokens=...)`` reads.
        """
        mmengine.mkdir_or_exist(out_dir)
        contents = {'selection.json': asdict(self), 'forget_tokens.json': list(self.forget_tokens),
                    'retain_tokens.json': list(self.retain_tokens)}
        paths = {}
        for name, content in contents.items():
            paths[name] = osp.join(out_dir, name)
            atomic_write(paths[name], json.dumps(content, indent=1).encode())
        return paths

    @classmethod
    def load(cls, out_dir: str) -> 'TakedownSelection':
        """The selection that :meth:`dump` wrote to ``out_dir``."""
        path = osp.join(out_dir, 'selection.json')
        if not osp.isfile(path):
            raise FileNotFoundError(f'{path} does not exist: no takedown selection was written to {out_dir}')
        with open(path) as f:
            try:
                content = json.load(f)
            except json.JSONDecodeError as error:
                raise ValueError(f'takedown selection {path} is not valid JSON: {error}') from error
        request = TakedownRequest.from_dict(content.pop('request'), source=path)
        return cls(request=request, **{k: tuple(v) if isinstance(v, list) else v
                                       for k, v in content.items()})


def records_from_info_file(info_file: str, with_pose: bool = False) -> List[dict]:
    """Per-sample records (``RECORD_KEYS``) of an info file written by tools/create_data.py;
    ``with_pose``: also the ego position ``x``, ``y`` (metres, the location's map frame, from
    ``ego2global``) that a fleet request's geofences test."""
    if not osp.isfile(info_file):
        raise FileNotFoundError(f'info file {info_file} does not exist')
    data_list = mmengine.load(info_file)['data_list']
    wanted = RECORD_KEYS + (('ego2global',) if with_pose else ())
    missing = [k for k in wanted if data_list and k not in data_list[0]]
    if missing:
        raise ValueError(f'info file {info_file} lacks {missing}: rewrite it with tools/create_data.py')
    records = [{k: info[k] for k in RECORD_KEYS} for info in data_list]
    if with_pose:
        for record, info in zip(records, data_list):
            record.update(x=float(info['ego2global'][0][3]), y=float(info['ego2global'][1][3]))
    return records


def records_from_nuscenes(nusc, scene_names: Iterable[str]) -> List[dict]:
    """Per-sample records (``RECORD_KEYS``) of the named scenes, read with the devkit."""
    by_name = {scene['name']: scene for scene in nusc.scene}
    unknown = sorted(set(scene_names) - set(by_name))
    if unknown:
        raise ValueError(f'scenes not in {nusc.version}: {unknown[:5]}')
    records = []
    for name in scene_names:
        scene = by_name[name]
        log = nusc.get('log', scene['log_token'])
        token = scene['first_sample_token']
        while token:
            sample = nusc.get('sample', token)
            records.append(dict(token=token, timestamp=sample['timestamp'] / 1e6, scene_token=scene['token'],
                                scene_name=name, log_token=log['token'], log_name=log['logfile'],
                                location=log['location']))
            token = sample['next']
    return records


def _check_known(kind: str, wanted: Sequence[str], known: Iterable[str], source: str) -> None:
    known = set(known)
    unknown = [w for w in wanted if w not in known]
    if unknown:
        shown = sorted(k for k in known if k)[:10]
        raise ValueError(f'takedown request names {kind} not in the training set of {source}: {unknown}; '
                         f'known {kind} include {shown}')


def select_takedown(records: Sequence[dict], request: TakedownRequest,
                    source: str = 'the given records') -> TakedownSelection:
    """Split the training samples ``records`` into the forget and retain sets of ``request``."""
    _check_known('scenes', request.scenes,
                 [r['scene_name'] for r in records] + [r['scene_token'] for r in records], source)
    _check_known('logs', request.logs, [r['log_name'] for r in records] + [r['log_token'] for r in records], source)
    _check_known('locations', request.locations, [r['location'] for r in records], source)
    _check_known('samples', request.samples, [r['token'] for r in records], source)
    scenes, logs, locations = set(request.scenes), set(request.logs), set(request.locations)
    samples = set(request.samples)

    def flagged(r: dict) -> bool:
        return bool({r['scene_name'], r['scene_token']} & scenes or {r['log_name'], r['log_token']} & logs
                    or r['location'] in locations or r['token'] in samples
                    or any(start <= r['timestamp'] <= end for start, end in request.time_windows))

    forget = [r for r in records if flagged(r)]
    if not forget:
        raise ValueError(f'takedown request {request} matches no training sample of {source}')
    _warn_unmatched_windows(records, request)
    if request.whole_scenes:
        forget_scene_tokens = {r['scene_token'] for r in forget}
        forget = [r for r in records if r['scene_token'] in forget_scene_tokens]
    forget_set = {r['token'] for r in forget}
    retain = [r for r in records if r['token'] not in forget_set]
    if not retain:
        raise ValueError(f'takedown request {request} flags every training scene of {source} '
                         f'({len(_scene_names(records))} scenes): nothing would be left to retain')
    retain_scenes = _scene_names(retain)
    forget_scenes = _scene_names(forget)
    if not request.whole_scenes and not set(retain_scenes) - set(forget_scenes):
        raise ValueError(f'takedown request {request} touches every training scene of {source}: '
                         f'no scene would be left untouched to retain')
    return TakedownSelection(request=request, forget_tokens=tuple(r['token'] for r in forget),
                             retain_tokens=tuple(r['token'] for r in retain), forget_scenes=forget_scenes,
                             retain_scenes=retain_scenes, source=source)


def select_from_info_file(info_file: str, request: TakedownRequest) -> TakedownSelection:
    """``select_takedown`` over the training samples of an info file."""
    return select_takedown(records_from_info_file(info_file), request, source=info_file)


def _scene_names(records: Sequence[dict]) -> Tuple[str, ...]:
    return tuple(dict.fromkeys(r['scene_name'] for r in records))


def _warn_unmatched_windows(records: Sequence[dict], request: TakedownRequest) -> None:
    for start, end in request.time_windows:
        if not any(start <= r['timestamp'] <= end for r in records):
            MMLogger.get_current_instance().warning(
                f'takedown time window [{start}, {end}] s matches no training sample')
