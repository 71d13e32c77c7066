"""The takedown suite: configs/takedowns/ selects what its comments say; load_suite refuses bad suites.

The selections are checked on the default synthetic dataset's scene plan (``writer._plan``: scene
names, locations, logs, sites and start times), from which the training samples' records are
built without rendering or writing anything.
"""
import dataclasses
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest

from ccu_av.benchmark.suite import Suite, SuiteTakedown, load_suite
from ccu_av.datasets import TakedownRequest, select_takedown
from ccu_av.datasets.synthetic import writer
from ccu_av.datasets.synthetic.config import SyntheticNuScenesConfig
from ccu_av.datasets.synthetic.scene_writer import KEY_INTERVAL_S, SceneJob
from ccu_av.datasets.synthetic.tables import Tokens
from ccu_av.datasets.takedown_selection import RECORD_KEYS

ROOT = Path(__file__).parents[2]
SUITE_FILE = 'configs/takedowns/suite.py'
CONFIG = SyntheticNuScenesConfig()


@pytest.fixture(scope='module')
def jobs() -> Dict[str, SceneJob]:
    """The default dataset's training scenes (seed 0), by name, in scene order."""
    _, planned = writer._plan(Path('/nonexistent-synthetic-root'), CONFIG, 0, Tokens(np.random.SeedSequence([0, 0])))
    return {job.name: job for job in planned if job.split == 'train'}


@pytest.fixture(scope='module')
def records(jobs) -> List[dict]:
    """One record a key frame of every training scene, timestamped as the scene writer does."""
    out = []
    for job in jobs.values():
        for k in range(CONFIG.samples_per_scene):
            timestamp_us = int(job.start_us + round(k * KEY_INTERVAL_S * 1e6))
            out.append(dict(token=f'{job.name}-{k}', timestamp=timestamp_us / 1e6, scene_token=job.name,
                            scene_name=job.name, log_token=job.log_token, log_name=job.logfile,
                            location=job.location))
    assert all(tuple(r) == RECORD_KEYS for r in out)
    return out


@pytest.fixture(scope='module')
def suite() -> Suite:
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        return load_suite(SUITE_FILE)


@pytest.fixture(scope='module')
def selections(suite, records):
    """Every suite takedown's selection over the default training set."""
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        return {t.name: select_takedown(records, t.load_request()) for t in suite.takedowns}


def _scenes(jobs, **where) -> List[str]:
    return [name for name, job in jobs.items() if all(getattr(job, k) == v for k, v in where.items())]


def _check_whole_scenes(selection, scenes):
    assert sorted(selection.forget_scenes) == sorted(scenes)
    assert sorted(selection.forget_tokens) == sorted(f'{s}-{k}' for s in scenes
                                                     for k in range(CONFIG.samples_per_scene))
    assert set(selection.retain_scenes).isdisjoint(selection.forget_scenes)


def test_the_plan_is_the_default_dataset(jobs):
    assert len(jobs) == 4 * 60
    for location in CONFIG.locations:
        assert len(_scenes(jobs, location=location)) == 60
        sites = {job.site for job in jobs.values() if job.location == location and job.site}
        assert sites == {f'{location}-site-1'}
        assert len(_scenes(jobs, site=f'{location}-site-1')) == 3


def test_the_real_suite_loads(suite):
    assert isinstance(suite, Suite)
    assert [t.name for t in suite.takedowns] == ['development', 'whole_location', 'ordinary_scenes',
                                                 'private_site', 'time_window']
    assert suite.reference_seeds == (0, 1)
    assert suite.source == SUITE_FILE
    assert suite.development().name == 'development'
    assert [t.role for t in suite.takedowns].count('development') == 1
    assert [t.name for t in suite.reported()] == ['whole_location', 'ordinary_scenes', 'private_site',
                                                  'time_window']
    assert all(t.request == f'configs/takedowns/{t.name}.yaml' for t in suite.takedowns)


def test_whole_location(selections, jobs):
    scenes = _scenes(jobs, location='singapore-hollandvillage')
    assert len(scenes) == 60
    assert 'singapore-hollandvillage-site-1' in {jobs[s].site for s in scenes}  # its private site included
    _check_whole_scenes(selections['whole_location'], scenes)


def test_ordinary_scenes(selections, jobs):
    selection = selections['ordinary_scenes']
    scenes = selection.forget_scenes
    assert len(scenes) == 8
    assert all(jobs[s].location == 'boston-seaport' and jobs[s].site == '' for s in scenes)
    _check_whole_scenes(selection, scenes)
    retained = [s for s in selection.retain_scenes if jobs[s].location == 'boston-seaport']
    assert len(retained) == 52


def test_private_site(selections, jobs):
    scenes = _scenes(jobs, site='singapore-onenorth-site-1')
    assert len(scenes) == 3 and all(jobs[s].location == 'singapore-onenorth' for s in scenes)
    _check_whole_scenes(selections['private_site'], scenes)


def test_time_window(selections, jobs, suite, records):
    scenes = [f'scene-{i:04d}' for i in range(141, 151)]
    assert all(jobs[s].location == 'singapore-queenstown' for s in scenes)
    queenstown = _scenes(jobs, location='singapore-queenstown')
    assert queenstown[10:20] == scenes  # the log's training scenes 11 to 20, consecutive
    assert min(jobs[s].start_us for s in queenstown) == 1_532_748_500_000_000  # the log's start
    _check_whole_scenes(selections['time_window'], scenes)
    # the window itself covers every sample of those scenes: no scene is cut
    with pytest.MonkeyPatch.context() as mp:
        mp.chdir(ROOT)
        request = suite.pick(['time_window'])[0].load_request()
    partial = select_takedown(records, dataclasses.replace(request, whole_scenes=False))
    assert sorted(partial.forget_tokens) == sorted(selections['time_window'].forget_tokens)


def test_development(selections, jobs):
    selection = selections['development']
    scenes = selection.forget_scenes
    site = _scenes(jobs, site='boston-seaport-site-1')
    assert sorted(set(scenes) & set(site)) == sorted(site) and len(site) == 3
    ordinary = sorted(set(scenes) - set(site))
    assert len(ordinary) == 4
    assert all(jobs[s].location == 'singapore-onenorth' and jobs[s].site == '' for s in ordinary)
    _check_whole_scenes(selection, site + ordinary)


def test_development_is_disjoint_from_the_reported_takedowns(selections, suite):
    development = set(selections[suite.development().name].forget_scenes)
    for takedown in suite.reported():
        assert development.isdisjoint(selections[takedown.name].forget_scenes), takedown.name


def test_pick(suite):
    assert [t.name for t in suite.pick()] == [t.name for t in suite.takedowns]
    assert [t.name for t in suite.pick(['time_window', 'development'])] == ['time_window', 'development']
    assert [t.name for t in suite.pick(role='development')] == ['development']
    assert [t.name for t in suite.pick(['private_site', 'whole_location'], role='reported')] == \
        ['private_site', 'whole_location']
    with pytest.raises(ValueError, match=r"no takedown \['nowhere'\].*'whole_location'"):
        suite.pick(['whole_location', 'nowhere'])
    with pytest.raises(ValueError, match='not .reported. takedowns'):
        suite.pick(['development'], role='reported')
    with pytest.raises(ValueError, match='unknown role'):
        suite.pick(role='held-out')


# ---------------------------------------------------------------- refusals, on small suite files


@pytest.fixture
def request_file(tmp_path) -> str:
    path = tmp_path / 'request.yaml'
    path.write_text('scenes: [scene-0001]\n')
    return str(path)


def _entry(request, name='a', role='reported', **changes):
    return dict(dict(name=name, kind='ordinary scenes', role=role, request=request), **changes)


def _write_suite(tmp_path, takedowns, seeds=(0, 1), extra='') -> str:
    path = tmp_path / 'suite.py'
    text = f'takedowns = {list(takedowns)!r}\n'
    if seeds is not None:
        text += f'reference_seeds = {list(seeds)!r}\n'
    path.write_text(text + extra)
    return str(path)


def _good(request_file):
    return [_entry(request_file, 'dev', 'development'), _entry(request_file, 'a'), _entry(request_file, 'b')]


def test_a_small_suite_loads(tmp_path, request_file):
    suite = load_suite(_write_suite(tmp_path, _good(request_file), seeds=[3]))
    assert suite.takedowns[1] == SuiteTakedown(name='a', kind='ordinary scenes', role='reported',
                                               request=request_file)
    assert suite.reference_seeds == (3,)
    assert suite.development().load_request() == TakedownRequest(scenes=('scene-0001',))


def test_relative_request_paths_are_read_from_the_working_directory(tmp_path, request_file, monkeypatch):
    path = _write_suite(tmp_path, [_entry('request.yaml', 'dev', 'development'), _entry('request.yaml')])
    monkeypatch.chdir(tmp_path)
    assert load_suite(path).takedowns[0].request == 'request.yaml'
    monkeypatch.chdir(ROOT)
    with pytest.raises(ValueError, match=r"takedown 0 \('dev'\): request file request.yaml does not exist"):
        load_suite(path)


@pytest.mark.parametrize('entry, message', [
    (dict(name='a', role='reported', request='R'), r"takedown 1 \('a'\): missing keys \['kind'\]"),
    (dict(kind='k', role='reported', request='R'), r"takedown 1: missing keys \['name'\]"),
    (dict(name='a', kind='k', role='reported', request='R', seed=3), r"takedown 1 \('a'\): unknown keys \['seed'\]"),
    (dict(name='a', kind='k', role='held-out', request='R'), r"takedown 1 \('a'\): unknown role 'held-out'"),
    (dict(name='a', kind='k', role='reported', request=3), r"takedown 1 \('a'\): \['request'\] must be"),
    ('a', r'takedown 1: expected dict'),
])
def test_bad_entries_are_refused(tmp_path, request_file, entry, message):
    if isinstance(entry, dict) and entry.get('request') == 'R':
        entry['request'] = request_file
    path = _write_suite(tmp_path, [_entry(request_file, 'dev', 'development'), entry])
    with pytest.raises(ValueError, match=message) as error:
        load_suite(path)
    assert path in str(error.value)


def test_duplicate_names_are_refused(tmp_path, request_file):
    path = _write_suite(tmp_path, _good(request_file) + [_entry(request_file, 'a')])
    with pytest.raises(ValueError, match=r"takedown 3 \('a'\): the name 'a' is already taken by takedown 1") \
            as error:
        load_suite(path)
    assert path in str(error.value)


@pytest.mark.parametrize('roles, message', [
    (('reported', 'reported'), "exactly one takedown must have role 'development', got 0"),
    (('development', 'development', 'reported'), "exactly one takedown must have role 'development', got 2"),
    (('development',), "no takedown has role 'reported'"),
])
def test_the_roles_are_checked(tmp_path, request_file, roles, message):
    path = _write_suite(tmp_path, [_entry(request_file, f't{i}', role) for i, role in enumerate(roles)])
    with pytest.raises(ValueError, match=message) as error:
        load_suite(path)
    assert path in str(error.value)


def test_a_missing_request_file_is_refused(tmp_path, request_file):
    missing = str(tmp_path / 'missing.yaml')
    path = _write_suite(tmp_path, _good(request_file) + [_entry(missing, 'c')])
    with pytest.raises(ValueError, match=r"takedown 3 \('c'\): request file .*missing.yaml does not exist"):
        load_suite(path)


@pytest.mark.parametrize('content, cause', [
    ('scenes: [scene-0001\n', 'not valid YAML'),
    ('scene: [scene-0001]\n', r"unknown keys \['scene'\]"),
    ('- scene-0001\n', 'expected a mapping'),
    ('scenes: []\n', 'names nothing'),
    ('scenes: scene-0001\n', 'must be a sequence of strings'),  # TakedownRequest raises TypeError
    ('time_windows: [[2, 1]]\n', 'start <= end'),
])
def test_a_request_file_that_does_not_load_is_refused(tmp_path, request_file, content, cause):
    bad = tmp_path / 'bad.yaml'
    bad.write_text(content)
    path = _write_suite(tmp_path, _good(request_file) + [_entry(str(bad), 'c')])
    with pytest.raises(ValueError, match=rf"takedown 3 \('c'\): request file .*bad.yaml does not load: .*{cause}") \
            as error:
        load_suite(path)
    assert path in str(error.value)


@pytest.mark.parametrize('seeds, message', [
    (None, '`reference_seeds` must be a non-empty list'),
    ([], '`reference_seeds` must be a non-empty list'),
    ([0, '1'], r"reference_seeds must be integers, got \['1'\]"),
    ([0, 1.0], r'reference_seeds must be integers, got \[1.0\]'),
    ([True], r'reference_seeds must be integers, got \[True\]'),
    ([0, 1, 0], r'reference_seeds \[0\] are given more than once'),
])
def test_bad_reference_seeds_are_refused(tmp_path, request_file, seeds, message):
    path = _write_suite(tmp_path, _good(request_file), seeds=seeds)
    with pytest.raises(ValueError, match=message) as error:
        load_suite(path)
    assert path in str(error.value)


def test_unknown_top_level_keys_are_refused(tmp_path, request_file):
    path = _write_suite(tmp_path, _good(request_file), extra='reference_seed = [0]\n')
    with pytest.raises(ValueError, match=r"unknown keys \['reference_seed'\]") as error:
        load_suite(path)
    assert path in str(error.value)


@pytest.mark.parametrize('takedowns', [None, [], 'development'])
def test_missing_or_empty_takedowns_are_refused(tmp_path, takedowns):
    path = tmp_path / 'suite.py'
    path.write_text(('' if takedowns is None else f'takedowns = {takedowns!r}\n') + 'reference_seeds = [0]\n')
    with pytest.raises(ValueError, match='`takedowns` must be a non-empty list'):
        load_suite(str(path))


def test_a_missing_suite_file_is_refused(tmp_path):
    with pytest.raises(FileNotFoundError, match='suite file .*nowhere.py does not exist'):
        load_suite(str(tmp_path / 'nowhere.py'))
