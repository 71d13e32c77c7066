"""Privacy requests of a fleet: who asked to erase what, validated against the dataset.

A request file (YAML) holds::

    id: req-0001                       # unique; letters, digits, '.', '_', '-'
    reason: GDPR art. 17 erasure, ticket 4711
    requested_by: privacy-office@fleet.example
    forget:                            # any criterion that matches a training sample flags it
      scenes: [scene-0030]             # names or tokens
      logs: [n015-2018-07-18-11-07-57+0800]   # logfile names or tokens
      locations: [singapore-onenorth]
      time_windows: [[1532749100, 1532749690]]  # seconds on the samples' clock
      geofences:                       # a simple polygon in a location's map frame (metres):
        - location: singapore-onenorth #   every sample whose ego pose lies inside is flagged
          polygon: [[250, 200], [280, 200], [280, 230], [250, 230]]
      whole_scenes: true               # flag every sample of a touched scene (the default)

A request resolves, against the training info file, to the sample tokens it flags
(:func:`resolve_request`); the ledger stores the file's content and the resolution.
The geofence test is shapely's (installed with nuscenes-devkit); the rest of the selection is
:func:`ccu_av.datasets.select_takedown`'s.
"""
import hashlib
import os.path as osp
import re
from dataclasses import dataclass, field
from typing import Dict, List, Sequence, Tuple

import mmengine
import yaml
from shapely.geometry import Point, Polygon
from shapely.validation import explain_validity

from ..datasets.takedown_selection import TakedownRequest, select_takedown
from .ledger import canonical_json

REQUEST_KEYS = ('id', 'reason', 'requested_by', 'forget')
FORGET_KEYS = ('scenes', 'logs', 'locations', 'time_windows', 'geofences', 'whole_scenes')
GEOFENCE_KEYS = ('location', 'polygon')
ID_PATTERN = re.compile(r'^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$')


class RequestError(ValueError):
    """A request that cannot be accepted; the message names the file and what is wrong."""


@dataclass(frozen=True)
class Geofence:
    """A simple polygon (x, y in metres, the location's map frame) of one location."""
    location: str
    polygon: Tuple[Tuple[float, float], ...]

    def contains(self, x: float, y: float) -> bool:
        """Whether (x, y) lies inside the polygon or on its border."""
        return Polygon(self.polygon).covers(Point(x, y))


@dataclass(frozen=True)
class PrivacyRequest:
    """A validated request file's content (see the module doc)."""
    id: str
    reason: str
    requested_by: str
    takedown: TakedownRequest  # the scenes / logs / locations / time windows criteria
    geofences: Tuple[Geofence, ...] = ()
    content: Dict = field(default_factory=dict, compare=False)  # the file's mapping, as read

    def content_sha256(self) -> str:
        """The identity of the request's content (re-submitting the same content is a no-op)."""
        return hashlib.sha256(canonical_json(self.content).encode()).hexdigest()


def load_request(path: str) -> PrivacyRequest:
    """Read and check a request file (:class:`RequestError` naming ``path`` and the problem)."""
    if not osp.isfile(path):
        raise RequestError(f'request file {path} does not exist')
    try:
        content = mmengine.load(path, file_format='json' if path.endswith('.json') else 'yaml')
    except (ValueError, yaml.YAMLError) as error:
        raise RequestError(f'request file {path} is not valid YAML: {error}') from error
    return parse_request(content, source=f'request file {path}')


def parse_request(content, source: str = 'the request') -> PrivacyRequest:
    """Check a request's mapping (keys, types, geofence polygons) and build the request."""
    if not isinstance(content, dict):
        raise RequestError(f'{source}: expected a mapping with keys {list(REQUEST_KEYS)}, '
                           f'got {type(content).__name__}')
    _check_keys(content, REQUEST_KEYS, REQUEST_KEYS, source)
    for key in ('id', 'reason', 'requested_by'):
        if not isinstance(content[key], str) or not content[key].strip():
            raise RequestError(f'{source}: {key} must be a non-empty string, got {content[key]!r}')
    if not ID_PATTERN.match(content['id']):
        raise RequestError(f'{source}: id {content["id"]!r} must be 1-128 letters, digits, ".", "_" '
                           'or "-", starting with a letter or digit')
    forget = content['forget']
    if not isinstance(forget, dict):
        raise RequestError(f'{source}: forget must be a mapping with some of {list(FORGET_KEYS)}, '
                           f'got {type(forget).__name__}')
    _check_keys(forget, FORGET_KEYS, (), f'{source}: forget')
    for key in ('scenes', 'logs', 'locations'):
        values = forget.get(key, [])
        if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
            raise RequestError(f'{source}: forget.{key} must be a list of strings, got {values!r}')
    windows = forget.get('time_windows', [])
    if not isinstance(windows, list) or not all(_is_pair(w) for w in windows):
        raise RequestError(f'{source}: forget.time_windows must be a list of [start, end] pairs of '
                           f'seconds, got {windows!r}')
    whole_scenes = forget.get('whole_scenes', True)
    if not isinstance(whole_scenes, bool):
        raise RequestError(f'{source}: forget.whole_scenes must be true or false, got {whole_scenes!r}')
    geofences = tuple(_geofence(g, f'{source}: forget.geofences[{i}]')
                      for i, g in enumerate(_list(forget.get('geofences', []), f'{source}: forget.geofences')))
    criteria = dict(scenes=forget.get('scenes', []), logs=forget.get('logs', []),
                    locations=forget.get('locations', []), time_windows=windows)
    if not any(criteria.values()) and not geofences:
        raise RequestError(f'{source}: forget names nothing; give scenes, logs, locations, '
                           'time_windows or geofences')
    try:
        # a geofence-only request flags samples by token, resolved against the dataset later
        takedown = TakedownRequest(whole_scenes=whole_scenes, **criteria) if any(criteria.values()) else None
    except (TypeError, ValueError) as error:
        raise RequestError(f'{source}: {error}') from error
    return PrivacyRequest(id=content['id'], reason=content['reason'], requested_by=content['requested_by'],
                          takedown=takedown, geofences=geofences, content=content)


def resolve_request(request: PrivacyRequest, records: Sequence[dict], source: str) -> Tuple[str, ...]:
    """The training sample tokens ``request`` flags among ``records`` (info-file records with
    ``token``, ``scene_token``, ``scene_name``, ``log_*``, ``location``, ``timestamp``, ``x``,
    ``y``: the ego position), in record order.

    Raises:
        RequestError: an unknown scene, log or location, a geofence of an unknown location or
            matching no sample, an empty selection, or one that flags every training scene.
    """
    locations = {r['location'] for r in records}
    tokens = set()
    for i, fence in enumerate(request.geofences):
        if fence.location not in locations:
            raise RequestError(f'request {request.id}: geofence {i} names the location {fence.location!r}, '
                               f'which has no training sample in {source}; locations are {sorted(locations)}')
        inside = [r['token'] for r in records if r['location'] == fence.location and fence.contains(r['x'], r['y'])]
        if not inside:
            raise RequestError(f'request {request.id}: geofence {i} of {fence.location} contains no '
                               f'training sample\'s ego pose in {source}')
        tokens.update(inside)
    criteria = request.takedown
    if criteria is None:
        criteria = TakedownRequest(samples=tuple(sorted(tokens)), whole_scenes=_whole_scenes(request))
    elif tokens:
        criteria = TakedownRequest(**{**_fields(criteria), 'samples': tuple(sorted(tokens))})
    try:
        selection = select_takedown(records, criteria, source=source)
    except ValueError as error:
        raise RequestError(f'request {request.id}: {error}') from error
    return selection.forget_tokens


def merged_takedown(token_sets: Sequence[Sequence[str]]) -> TakedownRequest:
    """One takedown of the samples of several resolved requests (the forget set of one run)."""
    tokens = sorted({t for tokens in token_sets for t in tokens})
    return TakedownRequest(samples=tuple(tokens), whole_scenes=False)


def _whole_scenes(request: PrivacyRequest) -> bool:
    return bool(request.content['forget'].get('whole_scenes', True))


def _fields(request: TakedownRequest) -> dict:
    return dict(scenes=request.scenes, logs=request.logs, locations=request.locations,
                time_windows=request.time_windows, whole_scenes=request.whole_scenes, samples=request.samples)


def _check_keys(mapping: dict, known: Sequence[str], required: Sequence[str], source: str) -> None:
    unknown = sorted(set(mapping) - set(known))
    if unknown:
        raise RequestError(f'{source}: unknown keys {unknown}; the keys are {list(known)}')
    missing = [k for k in required if k not in mapping]
    if missing:
        raise RequestError(f'{source}: missing keys {missing}')


def _is_pair(value) -> bool:
    return (isinstance(value, list) and len(value) == 2
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in value))


def _list(value, source: str) -> List:
    if not isinstance(value, list):
        raise RequestError(f'{source} must be a list, got {value!r}')
    return value


def _geofence(value, source: str) -> Geofence:
    if not isinstance(value, dict):
        raise RequestError(f'{source}: expected a mapping with keys {list(GEOFENCE_KEYS)}, got {value!r}')
    _check_keys(value, GEOFENCE_KEYS, GEOFENCE_KEYS, source)
    if not isinstance(value['location'], str):
        raise RequestError(f'{source}: location must be a string, got {value["location"]!r}')
    points = value['polygon']
    if not isinstance(points, list) or not all(_is_pair(p) for p in points):
        raise RequestError(f'{source}: polygon must be a list of [x, y] points in metres, got {points!r}')
    if len(points) < 3:
        raise RequestError(f'{source}: a polygon needs at least 3 points, got {len(points)}')
    polygon = Polygon(points)
    if not polygon.is_valid or polygon.area <= 0:
        why = explain_validity(polygon) if not polygon.is_valid else 'zero area'
        raise RequestError(f'{source}: polygon is not a valid simple polygon ({why}); give its corners '
                           'in order around the border, without crossing edges')
    return Geofence(location=value['location'], polygon=tuple((float(x), float(y)) for x, y in points))
