import hashlib
import json
import os

import pytest

from ccu_av.evaluation.prediction_cache import PredictionCache, token_set_sha256
from ccu_av.utils import file_sha256

CKPT = 'a' * 64


def _box(token, score):
    return dict(sample_token=token, translation=[1.0, 2.0, 0.5], size=[1.9, 4.5, 1.6],
                rotation=[1.0, 0.0, 0.0, 0.0], velocity=[0.0, 0.0], detection_name='car',
                detection_score=score, attribute_name='vehicle.parked')


def _predictions(tokens):
    return {t: [_box(t, 0.1 * (i + 1))] if i % 2 == 0 else [] for i, t in enumerate(tokens)}


def test_file_sha256(tmp_path):
    path = tmp_path / 'model.pth'
    path.write_bytes(b'weights' * 1000)
    assert file_sha256(str(path)) == hashlib.sha256(b'weights' * 1000).hexdigest()
    with pytest.raises(FileNotFoundError, match='no file to hash'):
        file_sha256(str(tmp_path / 'missing.pth'))
    assert token_set_sha256(['b', 'a', 'a']) == token_set_sha256(['a', 'b'])


def test_put_get_and_covering_entries(tmp_path):
    cache = PredictionCache(str(tmp_path))
    tokens = [f't{i}' for i in range(6)]
    predictions = _predictions(tokens)
    path = cache.put(CKPT, 'camera', predictions)
    assert json.loads(open(path).read())['results'] == predictions
    assert cache.get(CKPT, 'camera', tokens) == predictions
    # a subset is served from the entry covering it, in the order asked
    assert list(cache.get(CKPT, 'camera', ['t4', 't0'])) == ['t4', 't0']
    assert cache.get(CKPT, 'camera', ['t4', 't0'])['t0'] == predictions['t0']
    assert cache.get(CKPT, 'camera', ['t0', 'other']) is None
    assert cache.get(CKPT, 'radar', tokens) is None
    assert cache.get('b' * 64, 'camera', tokens) is None


def test_get_or_compute_runs_once(tmp_path):
    cache = PredictionCache(str(tmp_path))
    tokens = ['x', 'y', 'z']
    calls = []

    def compute(asked):
        calls.append(asked)
        return _predictions(asked)

    first = cache.get_or_compute(CKPT, 'fusion', tokens, compute)
    second = cache.get_or_compute(CKPT, 'fusion', ['z', 'x'], compute)
    assert calls == [tokens]
    assert second == {'z': first['z'], 'x': first['x']}


def test_bad_input_writes_nothing(tmp_path):
    cache = PredictionCache(str(tmp_path))
    with pytest.raises(ValueError, match='no entry for 1 of 2'):
        cache.get_or_compute(CKPT, 'fusion', ['x', 'y'], lambda asked: _predictions(['x']))
    with pytest.raises(ValueError, match='Out of range float'):
        cache.put(CKPT, 'fusion', {'x': [_box('x', float('nan'))]})
    with pytest.raises(ValueError, match='empty set'):
        cache.put(CKPT, 'fusion', {})
    with pytest.raises(ValueError, match='64 hex digits'):
        cache.put('abc', 'fusion', _predictions(['x']))
    with pytest.raises(ValueError, match='mode must be'):
        cache.get(CKPT, '../camera', ['x'])
    files = [os.path.join(d, f) for d, _, fs in os.walk(tmp_path) for f in fs]
    assert files == []


def test_foreign_file_is_rejected(tmp_path):
    cache = PredictionCache(str(tmp_path))
    path = cache.put(CKPT, 'fusion', _predictions(['x']))
    content = json.loads(open(path).read())
    content['mode'] = 'camera'
    open(path, 'w').write(json.dumps(content))
    with pytest.raises(ValueError, match='not a schema-1 prediction file'):
        cache.get(CKPT, 'fusion', ['x'])
