"""Takedown selection: forget and retain sets from scenes, logs, locations and time windows."""
import json

import pytest

from ccu_av.datasets.nuscenes_converter import load_nuscenes
from ccu_av.datasets.takedown_selection import (TakedownRequest, records_from_info_file, records_from_nuscenes,
                                                select_from_info_file, select_takedown)

# the tiny training set: scene-0001 (t 0-1 s), scene-0002 (20-21 s) in log-a at boston-seaport;
# scene-0003 (40-41 s) in log-b at singapore-onenorth; 3 samples each, 0.5 s apart.


def _scenes_of(tokens, records):
    by_token = {r['token']: r['scene_name'] for r in records}
    return sorted({by_token[t] for t in tokens})


@pytest.mark.parametrize('request_, forget_scenes', [
    (TakedownRequest(scenes=('scene-0002',)), ['scene-0002']),
    (TakedownRequest(scenes=('scene-token-scene-0003',)), ['scene-0003']),
    (TakedownRequest(logs=('log-b',)), ['scene-0003']),
    (TakedownRequest(logs=('log-log-a',)), ['scene-0001', 'scene-0002']),  # a log token
    (TakedownRequest(locations=('boston-seaport',)), ['scene-0001', 'scene-0002']),
    (TakedownRequest(time_windows=((20.9, 40.2),)), ['scene-0002', 'scene-0003']),
    (TakedownRequest(scenes=('scene-0001',), locations=('singapore-onenorth',)), ['scene-0001', 'scene-0003']),
])
def test_requests_select_whole_scenes(tiny_nuscenes, request_, forget_scenes):
    records = records_from_info_file(tiny_nuscenes['train'])
    selection = select_takedown(records, request_)
    assert sorted(selection.forget_scenes) == forget_scenes
    assert _scenes_of(selection.forget_tokens, records) == forget_scenes
    assert len(selection.forget_tokens) == 3 * len(forget_scenes)
    assert set(selection.forget_tokens).isdisjoint(selection.retain_tokens)
    assert set(selection.forget_tokens) | set(selection.retain_tokens) == {r['token'] for r in records}
    assert set(selection.retain_scenes).isdisjoint(selection.forget_scenes)


def test_time_window_can_flag_samples_only(tiny_nuscenes):
    records = records_from_info_file(tiny_nuscenes['train'])
    selection = select_takedown(records, TakedownRequest(time_windows=((20.4, 20.6),), whole_scenes=False))
    assert selection.forget_tokens == ('sample-scene-0002-1',)
    assert len(selection.retain_tokens) == 8


def test_devkit_records_equal_info_records(tiny_nuscenes):
    nusc = load_nuscenes(tiny_nuscenes['root'], tiny_nuscenes['version'])
    from_devkit = records_from_nuscenes(nusc, ['scene-0001', 'scene-0002', 'scene-0003'])
    assert from_devkit == records_from_info_file(tiny_nuscenes['train'])


@pytest.mark.parametrize('request_, message', [
    (TakedownRequest(scenes=('scene-0004',)), 'scenes not in the training set'),  # a validation scene
    (TakedownRequest(scenes=('scene-0002', 'scene-0404')), r"\['scene-0404'\]"),
    (TakedownRequest(logs=('log-z',)), 'logs not in the training set'),
    (TakedownRequest(locations=('paris',)), 'locations not in the training set'),
    (TakedownRequest(time_windows=((100.0, 200.0),)), 'matches no training sample'),
    (TakedownRequest(locations=('boston-seaport', 'singapore-onenorth')), 'every training scene'),
    (TakedownRequest(time_windows=((0.0, 0.1), (20.0, 20.1), (40.0, 40.1)), whole_scenes=False),
     'every training scene'),
])
def test_bad_requests_are_rejected(tiny_nuscenes, request_, message):
    with pytest.raises(ValueError, match=message):
        select_from_info_file(tiny_nuscenes['train'], request_)


@pytest.mark.parametrize('kwargs', [dict(), dict(time_windows=((5.0, 1.0),)), dict(scenes='scene-0001')])
def test_malformed_requests_are_rejected(kwargs):
    with pytest.raises((ValueError, TypeError)):
        TakedownRequest(**kwargs)


def test_dump_writes_token_lists(tiny_nuscenes, tmp_path):
    selection = select_from_info_file(tiny_nuscenes['train'], TakedownRequest(scenes=('scene-0001',)))
    paths = selection.dump(str(tmp_path / 'takedown'))
    assert json.loads(open(paths['forget_tokens.json']).read()) == list(selection.forget_tokens)
    assert json.loads(open(paths['retain_tokens.json']).read()) == list(selection.retain_tokens)
    record = json.loads(open(paths['selection.json']).read())
    assert record['request']['scenes'] == ['scene-0001'] and record['forget_scenes'] == ['scene-0001']
    assert sorted(p.name for p in (tmp_path / 'takedown').iterdir()) == [
        'forget_tokens.json', 'retain_tokens.json', 'selection.json']


def test_a_request_file_in_yaml_or_json_gives_the_same_request(tmp_path):
    (tmp_path / 'r.yaml').write_text('scenes: [scene-0002]\ntime_windows: [[20.0, 21.0]]\n')
    (tmp_path / 'r.json').write_text(json.dumps(dict(scenes=['scene-0002'], time_windows=[[20, 21]])))
    expected = TakedownRequest(scenes=('scene-0002',), time_windows=((20.0, 21.0),))
    assert TakedownRequest.from_file(str(tmp_path / 'r.yaml')) == expected
    assert TakedownRequest.coerce(str(tmp_path / 'r.json')) == expected
    assert TakedownRequest.coerce(dict(scenes=['scene-0002'], time_windows=[[20, 21]])) == expected


@pytest.mark.parametrize('content, message', [
    ('scenes: [scene-0002]\nlocation: [x]\n', r"unknown keys \['location'\].*'locations'"),
    ('scenes: [scene-0002\n', 'is not valid YAML/JSON'),
    ('- scene-0002\n', 'expected a mapping'),
])
def test_a_bad_request_file_is_named(tmp_path, content, message):
    path = tmp_path / 'bad.yaml'
    path.write_text(content)
    with pytest.raises(ValueError, match=message) as error:
        TakedownRequest.from_file(str(path))
    assert str(path) in str(error.value)
    with pytest.raises(FileNotFoundError, match='absent.yaml'):
        TakedownRequest.from_file(str(tmp_path / 'absent.yaml'))


def test_a_dumped_selection_loads_back_equal(tiny_nuscenes, tmp_path):
    from ccu_av.datasets.takedown_selection import TakedownSelection
    selection = select_from_info_file(tiny_nuscenes['train'], TakedownRequest(time_windows=((20.9, 40.2),)))
    selection.dump(str(tmp_path))
    assert TakedownSelection.load(str(tmp_path)) == selection
    with pytest.raises(FileNotFoundError, match='no takedown selection'):
        TakedownSelection.load(str(tmp_path / 'elsewhere'))
