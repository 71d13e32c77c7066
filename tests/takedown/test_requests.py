"""Privacy request files: parsing, validation against a dataset, geofences (no training)."""
import pytest

from ccu_av.takedown import RequestError, load_request, parse_request, resolve_request


def _records():
    """Two locations, two scenes each, two samples a scene; ego positions along x."""
    records = []
    for loc_index, location in enumerate(('boston-seaport', 'singapore-onenorth')):
        for scene_index in range(2):
            scene = f'scene-{loc_index}{scene_index}'
            for sample in range(2):
                records.append(dict(token=f'{scene}-s{sample}', timestamp=100.0 * (2 * loc_index + scene_index) + sample,
                                    scene_token=f'tok-{scene}', scene_name=scene, log_token=f'logtok-{loc_index}',
                                    log_name=f'log-{loc_index}', location=location,
                                    x=10.0 * scene_index + sample, y=0.0))
    return records


def _request(**forget):
    return dict(id='req-1', reason='erasure request', requested_by='privacy office', forget=forget)


@pytest.mark.parametrize('forget, flagged', [
    (dict(scenes=['scene-00']), ['scene-00-s0', 'scene-00-s1']),
    (dict(scenes=['tok-scene-01']), ['scene-01-s0', 'scene-01-s1']),
    (dict(logs=['log-1']), ['scene-10-s0', 'scene-10-s1', 'scene-11-s0', 'scene-11-s1']),
    (dict(time_windows=[[100.5, 101.5]]), ['scene-01-s0', 'scene-01-s1']),  # whole scene by default
    (dict(time_windows=[[100.5, 101.5]], whole_scenes=False), ['scene-01-s1']),
    # a square around x in [9, 10.5] of boston: sample 0 of scene-01 only, its scene flagged whole
    (dict(geofences=[dict(location='boston-seaport', polygon=[[9, -1], [10.5, -1], [10.5, 1], [9, 1]])]),
     ['scene-01-s0', 'scene-01-s1']),
    (dict(geofences=[dict(location='boston-seaport', polygon=[[9, -1], [10.5, -1], [10.5, 1], [9, 1]])],
          whole_scenes=False), ['scene-01-s0']),
    (dict(scenes=['scene-00'], geofences=[dict(location='singapore-onenorth', polygon=[[-1, -1], [0.5, -1], [0.5, 1]])],
          whole_scenes=False), ['scene-00-s0', 'scene-00-s1', 'scene-10-s0']),
])
def test_a_request_flags_what_it_names(forget, flagged):
    request = parse_request(_request(**forget))
    assert list(resolve_request(request, _records(), 'the records')) == flagged


@pytest.mark.parametrize('forget, message', [
    (dict(scenes=['scene-99']), r"scenes not in the training set.*scene-99"),
    (dict(logs=['log-9']), 'logs not in the training set'),
    (dict(locations=['paris']), 'locations not in the training set'),
    (dict(time_windows=[[5000, 6000]]), 'matches no training sample'),
    (dict(locations=['boston-seaport', 'singapore-onenorth']), 'every training scene'),
    (dict(geofences=[dict(location='paris', polygon=[[0, 0], [1, 0], [1, 1]])]), "location 'paris'"),
    (dict(geofences=[dict(location='boston-seaport', polygon=[[50, 50], [51, 50], [51, 51]])]),
     'contains no training sample'),
])
def test_a_request_the_dataset_cannot_satisfy_is_refused(forget, message):
    request = parse_request(_request(**forget))
    with pytest.raises(RequestError, match=message):
        resolve_request(request, _records(), 'the records')


@pytest.mark.parametrize('content, message', [
    (['not', 'a', 'mapping'], 'expected a mapping'),
    (dict(id='r', reason='x', forget=dict(scenes=['a'])), r"missing keys \['requested_by'\]"),
    (dict(_request(scenes=['a']), priority='high'), r"unknown keys \['priority'\]"),
    (_request(scene=['a']), r"forget: unknown keys \['scene'\]"),
    (_request(), 'forget names nothing'),
    (dict(_request(scenes=['a']), id='bad id!'), 'must be 1-128 letters'),
    (dict(_request(scenes=['a']), reason=''), 'reason must be a non-empty string'),
    (_request(scenes='scene-00'), 'forget.scenes must be a list of strings'),
    (_request(time_windows=[[1, 2, 3]]), r'\[start, end\] pairs'),
    (_request(time_windows=[[5, 1]]), 'start <= end'),
    (_request(whole_scenes='yes'), 'whole_scenes must be true or false'),
    (_request(geofences=[dict(location='boston-seaport', polygon=[[0, 0], [1, 1]])]), 'at least 3 points'),
    # a bow tie crosses itself: not a simple polygon
    (_request(geofences=[dict(location='boston-seaport', polygon=[[0, 0], [1, 1], [1, 0], [0, 1]])]),
     'not a valid simple polygon'),
    (_request(geofences=[dict(location='boston-seaport', polygon=[[0, 0], [1, 1], [2, 2]])]),
     'not a valid simple polygon'),  # collinear: zero area
    (_request(geofences=[dict(location='boston-seaport')]), r"missing keys \['polygon'\]"),
])
def test_malformed_requests_are_refused_with_what_is_wrong(content, message):
    with pytest.raises(RequestError, match=message):
        parse_request(content, source='request file r.yaml')


def test_request_files_name_themselves_in_errors(tmp_path):
    broken = tmp_path / 'broken.yaml'
    broken.write_text('id: [unclosed\n')
    with pytest.raises(RequestError, match='broken.yaml is not valid YAML'):
        load_request(str(broken))
    with pytest.raises(RequestError, match='missing.yaml does not exist'):
        load_request(str(tmp_path / 'missing.yaml'))
    good = tmp_path / 'good.yaml'
    good.write_text('id: req-7\nreason: r\nrequested_by: p\nforget:\n  scenes: [scene-00]\n')
    request = load_request(str(good))
    assert request.id == 'req-7' and request.takedown.scenes == ('scene-00',)
    # the content's identity ignores key order and formatting, not values
    same = tmp_path / 'same.json'
    same.write_text('{"forget": {"scenes": ["scene-00"]}, "requested_by": "p", "reason": "r", "id": "req-7"}')
    assert load_request(str(same)).content_sha256() == request.content_sha256()
    other = parse_request(dict(request.content, reason='another'))
    assert other.content_sha256() != request.content_sha256()
