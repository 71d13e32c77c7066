"""Fleet takedown jobs end to end on a tiny synthetic dataset with a tiny detector: submit, run
behind the verification gate, publish, redact, verify, and what a kill or a second runner does."""
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import mmengine
import pytest
import torch
from mmengine.config import Config

ROOT = Path(__file__).resolve().parents[2]
sys.path[:0] = [str(ROOT / 'tests' / 'jobs'), str(ROOT / 'tools')]

import takedown as takedown_tool  # noqa: E402  (tools/takedown.py)
from test_unlearn_job import write_configs  # noqa: E402

from ccu_av.datasets import REDACTION_FILE  # noqa: E402
from ccu_av.jobs import steps  # noqa: E402
from ccu_av.takedown import (Fleet, LedgerError, LedgerLocked, RequestError, RunLock,  # noqa: E402
                             TakedownError, load_fleet_config)
from ccu_av.utils import file_sha256, load_checkpoint_file  # noqa: E402

PASS_ALL = dict(camera_drop_min=-1.0, camera_drop_max=1.0, camera_retain_min=0.0, radar_retention_min=0.0,
                fusion_retain_min=0.0, fusion_val_other_min=0.0, membership_auc_max=1.0)


@pytest.fixture(scope='module')
def tiny_job(tmp_path_factory):
    """A job config over a tiny dataset of 3 locations x 2 training scenes, its original trained
    once (cached) and the training scenes by location."""
    root = tmp_path_factory.mktemp('fleet-job')
    job = write_configs(root, str(root / 'data'))
    cfg = Config.fromfile(job)
    cfg.job.synthetic.update(train_scenes_per_location=2,
                             locations=['singapore-onenorth', 'boston-seaport', 'singapore-queenstown'])
    cfg.dump(job)
    files = steps.data(cfg)
    steps.original(cfg, files)
    scenes = {}
    for info in mmengine.load(files.train_info)['data_list']:
        scenes.setdefault(info['location'], [])
        if info['scene_name'] not in scenes[info['location']]:
            scenes[info['location']].append(info['scene_name'])
    return dict(root=root, job=job, data_root=str(root / 'data'), scenes=scenes)


def make_fleet(tmp_path, tiny_job, gate=None, pictures=False, data_root=None) -> Fleet:
    job = tiny_job['job']
    if data_root is not None:  # a dataroot of the test's own (redaction changes it)
        cfg = Config.fromfile(job)
        for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
            if cfg.get(loader):
                dataset = cfg[loader].dataset
                while 'dataset' in dataset:
                    dataset = dataset.dataset
                dataset.data_root = data_root
        job = str(tmp_path / 'job.py')
        cfg.dump(job)
    path = tmp_path / 'fleet.py'
    path.write_text(f'takedown = dict(root={str(tmp_path / "fleet")!r}, job_config={job!r}, '
                    f'gate={gate or PASS_ALL!r}, pictures={pictures!r})\n')
    return Fleet(load_fleet_config(str(path)), progress=lambda line: None)


def write_request(tmp_path, request_id, **forget) -> str:
    path = tmp_path / f'{request_id}.yaml'
    mmengine.dump(dict(id=request_id, reason='erasure request', requested_by='privacy office', forget=forget),
                  str(path), file_format='yaml')
    return str(path)


def ledger_state(fleet: Fleet) -> dict:
    """What a run changes: requests' states, model lineage, the kinds of audit records."""
    with fleet.ledger() as ledger:
        return dict(requests={r.id: (r.state, r.run_id is not None) for r in ledger.requests()},
                    models=[(m.version, m.parent_version) for m in ledger.models()])


def test_submit_validates_against_the_dataset_and_records_nothing_it_refuses(tmp_path, tiny_job):
    fleet = make_fleet(tmp_path, tiny_job)
    boston = tiny_job['scenes']['boston-seaport']
    bad = [write_request(tmp_path, 'unknown-scene', scenes=['scene-9999']),
           write_request(tmp_path, 'unknown-location', locations=['paris']),
           write_request(tmp_path, 'everything', locations=list(tiny_job['scenes'])),
           write_request(tmp_path, 'empty-window', time_windows=[[0, 1]]),
           write_request(tmp_path, 'bow-tie', geofences=[dict(location='boston-seaport',
                                                              polygon=[[0, 0], [1, 1], [1, 0], [0, 1]])])]
    messages = ['scene-9999', 'paris', 'every training scene', 'matches no training sample', 'simple polygon']
    for path, message in zip(bad, messages):
        with pytest.raises(RequestError, match=message):
            fleet.submit(path)
    assert fleet.status()['requests'] == []

    first = write_request(tmp_path, 'req-1', scenes=[boston[0]])
    assert fleet.submit(first) == ('req-1', True, 2)
    assert fleet.submit(first) == ('req-1', False, 2)  # identical: a no-op
    changed = write_request(tmp_path, 'req-1', scenes=[boston[1]])
    with pytest.raises(ValueError, match='req-1'):
        fleet.submit(changed)
    with fleet.ledger() as ledger:
        assert [r.id for r in ledger.requests()] == ['req-1']
        assert ledger.request('req-1').content['forget'] == dict(scenes=[boston[0]])
        assert [r.kind for r in ledger.audit_records()] == ['submit']
    # the CLI says the same with exit status 2 and names the file's problem
    assert takedown_tool.main(['submit', bad[0], '--config', fleet.config.source]) == 2


@pytest.mark.slow
def test_run_publishes_behind_the_gate_then_redacts_and_verifies(tmp_path, tiny_job, capsys):
    data_root = str(tmp_path / 'data')
    shutil.copytree(tiny_job['data_root'], data_root)
    fleet = make_fleet(tmp_path, tiny_job, pictures=True, data_root=data_root)
    boston, onenorth = tiny_job['scenes']['boston-seaport'], tiny_job['scenes']['singapore-onenorth']
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[boston[0]]))
    fleet.submit(write_request(tmp_path, 'req-2', scenes=[onenorth[0]]))

    outcome = fleet.run()
    assert outcome['passed'] and outcome['version'] == 1 and outcome['request_ids'] == ['req-1', 'req-2']
    assert ledger_state(fleet) == dict(requests={'req-1': ('published', True), 'req-2': ('published', True)},
                                       models=[(0, None), (1, 0)])
    with fleet.ledger() as ledger:
        original, published = ledger.models()
        record = [r for r in ledger.audit_records() if r.kind == 'publish'][0].payload['record']
    # the published file is the unlearned model, and it differs from the original
    assert file_sha256(published.checkpoint) == published.checkpoint_sha256 == record['output']['sha256']
    before = load_checkpoint_file(original.checkpoint)['state_dict']
    after = load_checkpoint_file(published.checkpoint)['state_dict']
    assert any(not torch.equal(before[k], after[k]) for k in before)
    # the audit record: flagged samples, hashes, every gate check with its value, metrics, times
    assert sorted(record['flagged']) == ['req-1', 'req-2'] and all(len(t) == 2 for t in record['flagged'].values())
    assert record['input']['sha256'] == original.checkpoint_sha256
    assert {c['name'] for c in record['gate']['checks']} == set(PASS_ALL) and record['gate']['passed']
    assert set(record['metrics']['after']) == {'fusion', 'camera', 'radar'}
    assert record['times']['unlearn_s'] > 0 and record['times']['evaluation_and_gate_s'] > 0
    report = Path(record['report']['path'])
    assert file_sha256(str(report)) == record['report']['sha256']
    assert 'Verification gate: passed' in report.read_text()
    assert record['report']['pictures_error'] is None and len(record['report']['pictures']) == 3
    assert all(Path(p).stat().st_size > 0 for p in record['report']['pictures'])

    # nothing pending: a second run does nothing
    assert fleet.run() is None and ledger_state(fleet)['models'] == [(0, None), (1, 0)]

    # a later request starts from v1, with the earlier requests' samples camera-erased in training
    fleet.submit(write_request(tmp_path, 'req-3', scenes=[boston[1]]))
    third = fleet.run()
    assert third['version'] == 2
    with fleet.ledger() as ledger:
        payload = [r for r in ledger.audit_records() if r.kind == 'publish'][-1].payload['record']
        assert payload['input']['version'] == 1 and payload['camera_erased_before'] == 4
        assert ledger.models()[-1].parent_version == 1

    # redaction: the flagged samples' camera files move to the quarantine, hashed
    tokens = record['flagged']['req-1']
    infos = {i['token']: i for i in mmengine.load(os.path.join(data_root, 'nuscenes_infos_train.pkl'))['data_list']}
    files = [cam['img_path'] for t in tokens for cam in infos[t]['images'].values()]
    hashes = {f: file_sha256(os.path.join(data_root, f)) for f in files}
    quarantine = str(tmp_path / 'quarantine')
    assert fleet.redact('req-1', quarantine) == dict(request_id='req-1', files=len(files), already=False)
    assert not any(os.path.exists(os.path.join(data_root, f)) for f in files)
    assert {f: file_sha256(os.path.join(quarantine, f)) for f in files} == hashes
    with fleet.ledger() as ledger:
        redact = [r for r in ledger.audit_records() if r.kind == 'redact'][0].payload['record']
        assert {f['path']: f['sha256'] for f in redact['files']} == hashes
        assert ledger.request('req-1').redacted
    assert fleet.redact('req-1', quarantine)['already']
    # from now on the data layer reads those samples as camera-less: radar and boxes kept
    from mmdet3d.registry import DATASETS
    cfg = Config.fromfile(fleet.config.job_config)
    dataset = DATASETS.build(dict(cfg.train_dataloader.dataset.dataset, sample_tokens=tokens))
    sample = dataset[0]
    assert sample['data_samples'].metainfo['camera_erased']
    assert float(sample['inputs']['img'].abs().sum()) == 0.0 and len(sample['inputs']['points']) > 0
    assert json.loads((Path(data_root) / REDACTION_FILE).read_text())['samples'].keys() == set(tokens)
    # a request whose model was never published is not redacted
    fleet.submit(write_request(tmp_path, 'req-4', scenes=[onenorth[1]]))
    with pytest.raises(TakedownError, match='req-4 is pending.*nothing was removed'):
        fleet.redact('req-4')

    # verify: intact, then a changed audit copy and a changed published model are named
    assert fleet.verify() == []
    assert takedown_tool.main(['verify', '--config', fleet.config.source]) == 0
    copies = sorted(Path(fleet.audit_dir).glob('*-publish.json'))
    content = json.loads(copies[0].read_text())
    content['payload']['record']['flagged']['req-1'] = []
    copies[0].write_text(json.dumps(content))
    with open(published.checkpoint, 'ab') as f:
        f.write(b'\0')
    problems = fleet.verify()
    assert any(copies[0].name in p and 'changed' in p for p in problems)
    assert any('model v1' in p and 'no longer hashes' in p for p in problems)
    capsys.readouterr()
    assert takedown_tool.main(['verify', '--config', fleet.config.source]) == 1
    assert '2 problems' in capsys.readouterr().out
    assert takedown_tool.main(['list', '--config', fleet.config.source]) == 0
    listing = capsys.readouterr().out
    assert 'req-4' in listing and 'pending' in listing and 'v2' in listing


@pytest.mark.slow
def test_a_model_the_gate_fails_is_not_published_and_its_requests_stay_pending(tmp_path, tiny_job):
    fleet = make_fleet(tmp_path, tiny_job, gate=dict(PASS_ALL, fusion_retain_min=10.0))
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    outcome = fleet.run()
    assert not outcome['passed'] and outcome['version'] is None
    assert outcome['verdict']['failed'] == ['fusion_retain_min']
    with fleet.ledger() as ledger:
        request = ledger.request('req-1')
        assert request.state == 'pending' and 'fusion_retain_min' in request.last_failure
        assert [m.version for m in ledger.models()] == [0]
        assert [r.state for r in ledger.runs()] == ['failed']
        failed = [r for r in ledger.audit_records() if r.kind == 'run-failed'][0].payload['record']
        assert not failed['gate']['passed'] and failed['output']['sha256']
    assert not os.path.exists(os.path.join(fleet.models_dir, 'v0001.pth'))
    with pytest.raises(TakedownError, match='nothing was removed'):
        fleet.redact('req-1')


@pytest.mark.slow
def test_run_of_named_requests_leaves_the_other_pending_requests_waiting(tmp_path, tiny_job, capsys):
    fleet = make_fleet(tmp_path, tiny_job)
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    fleet.submit(write_request(tmp_path, 'req-2', scenes=[tiny_job['scenes']['singapore-onenorth'][0]]))
    before = ledger_state(fleet)
    with pytest.raises(TakedownError, match=r"request 'req-9' is not in the ledger.*'req-1', 'req-2'"):
        fleet.run(['req-9'])
    assert takedown_tool.main(['run', '--requests', 'req-9', '--config', fleet.config.source]) == 2
    assert "'req-9' is not in the ledger" in capsys.readouterr().err
    assert ledger_state(fleet) == before
    with fleet.ledger() as ledger:
        assert ledger.runs() == []

    outcome = fleet.run(['req-2'])
    assert outcome['passed'] and outcome['request_ids'] == ['req-2'] and outcome['version'] == 1
    with fleet.ledger() as ledger:
        assert ledger.request('req-1').state == 'pending' and ledger.request('req-1').run_id is None
        assert ledger.request('req-2').state == 'published'
        assert [list(r.request_ids) for r in ledger.runs()] == [['req-2']]
        flagged = [r for r in ledger.audit_records() if r.kind == 'publish'][0].payload['record']['flagged']
    assert list(flagged) == ['req-2']
    with pytest.raises(TakedownError, match="request 'req-2' is published, not pending.*req-1"):
        fleet.run(['req-2'])


KILLER = textwrap.dedent('''
    import os, signal, sys
    sys.path.insert(0, {tools!r})
    import ccu_av
    from mmengine.runner import IterBasedTrainLoop
    from ccu_av.takedown import ledger as ledger_module
    point = {point!r}
    if point == 'training':
        run_iter = IterBasedTrainLoop.run_iter
        def killing_run_iter(self, data_batch):
            if self._iter == 1:
                os.kill(os.getpid(), signal.SIGKILL)
            return run_iter(self, data_batch)
        IterBasedTrainLoop.run_iter = killing_run_iter
    else:  # inside the publishing transaction, after the model file is written
        append = ledger_module.Ledger._append_audit
        def killing_append(self, kind, payload):
            if kind == 'publish':
                os.kill(os.getpid(), signal.SIGKILL)
            return append(self, kind, payload)
        ledger_module.Ledger._append_audit = killing_append
    import takedown
    takedown.main(['run', '--config', {config!r}])
''')


@pytest.mark.slow
def test_runs_killed_mid_training_and_mid_publish_leave_the_ledger_consistent(tmp_path, tiny_job):
    fleet = make_fleet(tmp_path, tiny_job)
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    for point in ('training', 'publish'):
        script = KILLER.format(tools=str(ROOT / 'tools'), point=point, config=fleet.config.source)
        child = subprocess.run([sys.executable, '-c', script], cwd=str(ROOT), capture_output=True, text=True,
                               env=dict(os.environ, OMP_NUM_THREADS='1'))
        assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
        # the ledger opens, its chain is intact, nothing was published, the run is left running
        assert fleet.verify() == []
        with fleet.ledger() as ledger:
            assert [m.version for m in ledger.models()] == [0]
            assert [r.state for r in ledger.runs()][-1] == 'running'
            assert ledger.request('req-1').state == 'pending'
        assert not [p for p in Path(fleet.config.root).rglob('*.tmp')]
    # killed mid-publish: the model file was complete before the transaction began, and unpublished
    assert os.path.isfile(os.path.join(fleet.models_dir, 'v0001.pth'))

    # the next run redoes it and ends as an uninterrupted run does
    outcome = fleet.run()
    assert outcome['passed'] and outcome['version'] == 1
    assert ledger_state(fleet) == dict(requests={'req-1': ('published', True)}, models=[(0, None), (1, 0)])
    with fleet.ledger() as ledger:
        assert [r.state for r in ledger.runs()] == ['interrupted', 'interrupted', 'published']
        model = ledger.current_model()
    assert file_sha256(model.checkpoint) == model.checkpoint_sha256
    assert fleet.verify() == []


def test_a_second_runner_is_refused_while_the_lock_is_held(tmp_path, tiny_job):
    fleet = make_fleet(tmp_path, tiny_job)
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    with RunLock(fleet.config.ledger):
        with pytest.raises(LedgerLocked, match=str(os.getpid())):
            fleet.run()
        with pytest.raises(LedgerLocked):
            fleet.redact('req-1')
    with fleet.ledger() as ledger:
        assert ledger.runs() == [] and ledger.request('req-1').state == 'pending'


def test_a_corrupted_ledger_is_named_and_never_recreated(tmp_path, tiny_job):
    fleet = make_fleet(tmp_path, tiny_job)
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    with sqlite3.connect(fleet.config.ledger) as db:
        db.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    data = Path(fleet.config.ledger).read_bytes()
    Path(fleet.config.ledger).write_bytes(data[:len(data) // 2])
    for command in (fleet.status, fleet.run, fleet.verify):
        with pytest.raises(LedgerError, match='ledger.sqlite'):
            command()
    assert Path(fleet.config.ledger).read_bytes() == data[:len(data) // 2]
    assert takedown_tool.main(['status', '--config', fleet.config.source]) == 2


@pytest.mark.slow
def test_an_interrupted_redaction_resumes_and_completes(tmp_path, tiny_job):
    data_root = str(tmp_path / 'data')
    shutil.copytree(tiny_job['data_root'], data_root)
    fleet = make_fleet(tmp_path, tiny_job, data_root=data_root)
    fleet.submit(write_request(tmp_path, 'req-1', scenes=[tiny_job['scenes']['boston-seaport'][0]]))
    assert fleet.run()['passed']
    script = textwrap.dedent(f'''
        import os, signal, sys
        sys.path.insert(0, {str(ROOT / "tools")!r})
        import ccu_av
        from ccu_av.takedown import ledger as ledger_module
        mark = ledger_module.Ledger.mark_file_redacted
        calls = []
        def killing_mark(self, request_id, path):
            calls.append(path)
            if len(calls) == 3:
                os.kill(os.getpid(), signal.SIGKILL)
            return mark(self, request_id, path)
        ledger_module.Ledger.mark_file_redacted = killing_mark
        import takedown
        takedown.main(['redact', 'req-1', '--config', {fleet.config.source!r}])
    ''')
    child = subprocess.run([sys.executable, '-c', script], cwd=str(ROOT), capture_output=True, text=True)
    assert child.returncode == -signal.SIGKILL, child.stderr[-2000:]
    with fleet.ledger() as ledger:
        files = ledger.redaction_files('req-1')
        assert sum(f.done for f in files) == 2 and not ledger.request('req-1').redacted
    # the samples are camera-erased for the data layer already: no half-redacted sample is read
    assert set(json.loads((Path(data_root) / REDACTION_FILE).read_text())['samples']) == {f.token for f in files}
    assert fleet.redact('req-1') == dict(request_id='req-1', files=len(files), already=False)
    assert not any(os.path.exists(os.path.join(data_root, f.path)) for f in files)
    with fleet.ledger() as ledger:
        assert ledger.request('req-1').redacted
        assert all(f.done for f in ledger.redaction_files('req-1'))
