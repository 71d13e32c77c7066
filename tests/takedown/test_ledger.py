"""The fleet takedown ledger: its state machine, refusal of damaged files, the audit chain and the run lock."""
import hashlib
import json
import os
import re
import select
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from ccu_av.takedown.ledger import (SCHEMA_VERSION, ZERO_SHA256, Ledger, LedgerError, LedgerLocked, RedactionFile,
                                    RunLock, audit_record_sha256, canonical_json)

LEDGER_MODULE = Path(__file__).resolve().parents[2] / 'ccu_av' / 'takedown' / 'ledger.py'
SHA_ORIGINAL = hashlib.sha256(b'original').hexdigest()
SHA_V1 = hashlib.sha256(b'version 1').hexdigest()
SHA_V2 = hashlib.sha256(b'version 2').hexdigest()
FORGET_A = dict(reason='privacy complaint', requested_by='dpo@example.com', scenes=['scene-0001'])
FORGET_B = dict(reason='court order', requested_by='legal@example.com', scenes=['scene-0002'])


@pytest.fixture
def ledger_path(tmp_path) -> str:
    return str(tmp_path / 'state' / 'ledger.sqlite')


@pytest.fixture
def ledger(ledger_path):
    with Ledger(ledger_path) as opened:
        yield opened


def _sha_of_file(path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _published(ledger: Ledger, request_id: str = 'req-a', content: dict = FORGET_A) -> int:
    """Submit ``request_id``, unlearn it from the current (or a new original) model and publish; the version."""
    if ledger.current_model() is None:
        ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.add_request(request_id, content)
    run_id = ledger.start_run([request_id], ledger.current_model().version, f'/work/{request_id}')
    return ledger.publish(run_id, f'/models/{request_id}.pth', SHA_V1, dict(gate='pass'))


def _raw(path) -> sqlite3.Connection:
    return sqlite3.connect(str(path), isolation_level=None)


# ------------------------------------------------------------------------------------------ opening


def test_a_new_ledger_is_created_with_its_schema_and_reopened_with_its_state(ledger_path):
    assert not os.path.exists(os.path.dirname(ledger_path))
    before = time.time()
    with Ledger(ledger_path) as ledger:
        assert ledger.requests() == [] and ledger.runs() == [] and ledger.models() == []
        assert ledger.head() is None and ledger.verify_audit() == []
        assert ledger.add_request('req-a', FORGET_A, submitted_at=100.0) is True
    conn = _raw(ledger_path)
    meta = dict(conn.execute('SELECT key, value FROM meta'))
    assert meta['schema_version'] == str(SCHEMA_VERSION) == '1'
    assert before <= float(meta['created_at']) <= time.time()
    assert conn.execute('PRAGMA journal_mode').fetchone()[0] == 'wal'
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {'meta', 'requests', 'runs', 'models', 'redaction_plans', 'redaction_files', 'audit'} <= tables
    conn.close()
    assert not [name for name in os.listdir(os.path.dirname(ledger_path)) if '.creating-' in name]

    with Ledger(ledger_path) as reopened:
        row = reopened.request('req-a')
        assert (row.id, row.content, row.state, row.submitted_at) == ('req-a', FORGET_A, 'pending', 100.0)
        assert row.content_sha256 == hashlib.sha256(canonical_json(FORGET_A).encode()).hexdigest()
        assert (row.run_id, row.last_failure, row.redacted) == (None, None, False)
        assert [r.kind for r in reopened.audit_records()] == ['submit']


def test_a_closed_ledger_refuses_queries_by_name(ledger_path):
    ledger = Ledger(ledger_path)
    ledger.close()
    ledger.close()  # idempotent
    with pytest.raises(LedgerError, match='closed'):
        ledger.requests()


# ----------------------------------------------------------------------------------------- requests


def test_add_request_new_identical_and_different_content(ledger):
    assert ledger.add_request('req-a', FORGET_A) is True
    assert len(ledger.audit_records()) == 1
    # identical content, keys in another order: a no-op, no audit record
    assert ledger.add_request('req-a', dict(reversed(list(FORGET_A.items())))) is False
    assert len(ledger.audit_records()) == 1
    with pytest.raises(ValueError, match=r"request 'req-a' already exists with different content.*new id"):
        ledger.add_request('req-a', FORGET_B)
    assert ledger.request('req-a').content == FORGET_A
    assert len(ledger.audit_records()) == 1
    submit = ledger.audit_records()[0]
    assert submit.kind == 'submit'
    assert submit.payload['request_id'] == 'req-a' and submit.payload['content'] == FORGET_A
    assert submit.payload['content_sha256'] == ledger.request('req-a').content_sha256


def test_add_request_refuses_content_that_is_not_a_json_dict(ledger):
    with pytest.raises(TypeError, match="'req-x'"):
        ledger.add_request('req-x', dict(when=object()))
    with pytest.raises(TypeError, match="'req-y'.*dict"):
        ledger.add_request('req-y', ['not', 'a', 'dict'])
    with pytest.raises(ValueError, match='non-empty'):
        ledger.add_request('', FORGET_A)
    assert ledger.requests() == [] and ledger.audit_records() == []


def test_requests_come_in_submission_order_and_filter_by_state(ledger):
    for request_id, submitted_at in (('req-c', 30.0), ('req-a', 10.0), ('req-b', 20.0)):
        ledger.add_request(request_id, dict(FORGET_A, id=request_id), submitted_at=submitted_at)
    assert [r.id for r in ledger.requests()] == ['req-c', 'req-a', 'req-b']
    ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.publish(ledger.start_run(['req-a'], 0, '/work/1'), '/models/v1.pth', SHA_V1, {})
    assert [r.id for r in ledger.requests('pending')] == ['req-c', 'req-b']
    assert [r.id for r in ledger.requests('published')] == ['req-a']
    assert ledger.request('no-such-request') is None
    with pytest.raises(ValueError, match="unknown request state 'done'"):
        ledger.requests('done')


# --------------------------------------------------------------------------------------------- runs


def test_start_run_then_publish_versions_models_and_marks_requests(ledger):
    assert ledger.add_original('/models/original.pth', SHA_ORIGINAL) == 0
    ledger.add_request('req-a', FORGET_A)
    ledger.add_request('req-b', FORGET_B)
    run_id = ledger.start_run(['req-a', 'req-b'], 0, '/work/run-1', started_at=50.0)
    run = ledger.run(run_id)
    assert (run.request_ids, run.input_version, run.work_dir, run.state) == (('req-a', 'req-b'), 0, '/work/run-1',
                                                                             'running')
    assert (run.started_at, run.finished_at, run.reason, run.output_version) == (50.0, None, None, None)
    assert [r.state for r in ledger.requests()] == ['pending', 'pending']

    version = ledger.publish(run_id, '/models/v1.pth', SHA_V1, dict(gate='pass', forget_map=0.01), created_at=60.0)
    assert version == 1
    run = ledger.run(run_id)
    assert (run.state, run.output_version, run.finished_at) == ('published', 1, 60.0)
    for request in ledger.requests():
        assert (request.state, request.run_id, request.last_failure) == ('published', run_id, None)
    model = ledger.current_model()
    assert (model.version, model.checkpoint, model.checkpoint_sha256, model.run_id, model.parent_version,
            model.created_at) == (1, '/models/v1.pth', SHA_V1, run_id, 0, 60.0)
    original = ledger.models()[0]
    assert (original.version, original.run_id, original.parent_version) == (0, None, None)

    ledger.add_request('req-c', dict(FORGET_A, scenes=['scene-0003']))
    second = ledger.start_run(['req-c'], 1, '/work/run-2')
    assert second > run_id
    assert ledger.publish(second, '/models/v2.pth', SHA_V2, {}) == 2
    assert [(m.version, m.parent_version, m.run_id) for m in ledger.models()] == [(0, None, None), (1, 0, run_id),
                                                                                  (2, 1, second)]
    assert [r.id for r in ledger.runs('published')] == [run_id, second]
    with pytest.raises(ValueError, match=rf'cannot publish run {run_id}: it is published, expected running'):
        ledger.publish(run_id, '/models/again.pth', SHA_V2, {})
    assert len(ledger.models()) == 3

    kinds = [r.kind for r in ledger.audit_records()]
    assert kinds == ['original', 'submit', 'submit', 'run-start', 'publish', 'submit', 'run-start', 'publish']
    publish = ledger.audit_records()[4].payload
    assert publish == dict(run_id=run_id, request_ids=['req-a', 'req-b'], version=1, parent_version=0,
                           checkpoint='/models/v1.pth', checkpoint_sha256=SHA_V1,
                           record=dict(gate='pass', forget_map=0.01))
    assert ledger.verify_audit() == []


def test_fail_run_keeps_requests_pending_with_the_reason_until_a_later_run_publishes(ledger):
    ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.add_request('req-a', FORGET_A)
    run_id = ledger.start_run(['req-a'], 0, '/work/run-1')
    ledger.fail_run(run_id, 'gate: retain mAP dropped 0.08 > 0.02', dict(retain_map=0.41, verdict='fail'))
    run = ledger.run(run_id)
    assert (run.state, run.reason, run.output_version) == ('failed', 'gate: retain mAP dropped 0.08 > 0.02', None)
    assert run.finished_at is not None and run.finished_at >= run.started_at
    request = ledger.request('req-a')
    assert (request.state, request.last_failure, request.run_id) == ('pending', 'gate: retain mAP dropped 0.08 > 0.02',
                                                                     None)
    failed = ledger.head()
    assert failed.kind == 'run-failed'
    assert failed.payload == dict(run_id=run_id, request_ids=['req-a'], reason='gate: retain mAP dropped 0.08 > 0.02',
                                  record=dict(retain_map=0.41, verdict='fail'))
    assert ledger.models()[-1].version == 0
    with pytest.raises(ValueError, match=rf'cannot fail run {run_id}: it is failed, expected running'):
        ledger.fail_run(run_id, 'again', {})
    with pytest.raises(ValueError, match='cannot fail run 99: the ledger has no such run'):
        ledger.fail_run(99, 'no such run', {})

    retry = ledger.start_run(['req-a'], 0, '/work/run-2')
    assert ledger.publish(retry, '/models/v1.pth', SHA_V1, {}) == 1
    request = ledger.request('req-a')
    assert (request.state, request.last_failure, request.run_id) == ('published', None, retry)


def test_interrupt_run_marks_a_run_left_running_and_keeps_its_requests_pending(ledger):
    ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.add_request('req-a', FORGET_A)
    run_id = ledger.start_run(['req-a'], 0, '/work/run-1')
    assert [r.id for r in ledger.runs('running')] == [run_id]
    ledger.interrupt_run(run_id, 'the process running it (pid 4242) is gone')
    run = ledger.run(run_id)
    assert (run.state, run.reason) == ('interrupted', 'the process running it (pid 4242) is gone')
    assert ledger.runs('running') == []
    request = ledger.request('req-a')
    assert (request.state, request.last_failure) == ('pending', 'the process running it (pid 4242) is gone')
    assert ledger.head().kind == 'run-interrupted' and ledger.head().payload['run_id'] == run_id
    with pytest.raises(ValueError, match=rf'cannot interrupt run {run_id}: it is interrupted, expected running'):
        ledger.interrupt_run(run_id, 'again')
    with pytest.raises(ValueError, match='expected running'):
        ledger.publish(run_id, '/models/v1.pth', SHA_V1, {})
    assert ledger.start_run(['req-a'], 0, '/work/run-2') == run_id + 1


def test_start_run_refuses_ids_that_are_unknown_published_or_busy_naming_them(ledger):
    _published(ledger, 'req-done')
    ledger.add_request('req-a', FORGET_A)
    ledger.add_request('req-b', FORGET_B)
    busy = ledger.start_run(['req-b'], 1, '/work/busy')
    runs_before, audit_before = ledger.runs(), len(ledger.audit_records())
    with pytest.raises(ValueError) as error:
        ledger.start_run(['req-a', 'req-done', 'req-ghost', 'req-b'], 1, '/work/x')
    message = str(error.value)
    assert "'req-done' (published" in message and "'req-ghost' (no such request)" in message
    assert f"'req-b' (already in running run {busy}" in message and "'req-a'" not in message
    with pytest.raises(ValueError, match='at least one request'):
        ledger.start_run([], 1, '/work/x')
    with pytest.raises(ValueError, match=r"\['req-a'\] appear more than once"):
        ledger.start_run(['req-a', 'req-a'], 1, '/work/x')
    with pytest.raises(ValueError, match=r'model version 7: the ledger has no such version \(its versions: \[0, 1\]'):
        ledger.start_run(['req-a'], 7, '/work/x')
    assert ledger.runs() == runs_before and len(ledger.audit_records()) == audit_before
    assert ledger.request('req-a').state == 'pending'


def test_add_original_only_once_and_only_with_the_same_hash(ledger):
    assert ledger.current_model() is None
    assert ledger.add_original('/models/original.pth', SHA_ORIGINAL, created_at=5.0) == 0
    assert ledger.add_original('/models/moved/original.pth', SHA_ORIGINAL) == 0  # same hash: nothing changes
    assert [(m.version, m.checkpoint, m.created_at) for m in ledger.models()] == [(0, '/models/original.pth', 5.0)]
    assert [r.kind for r in ledger.audit_records()] == ['original']
    with pytest.raises(ValueError) as error:
        ledger.add_original('/models/other.pth', SHA_V1)
    assert SHA_ORIGINAL in str(error.value) and SHA_V1 in str(error.value)
    with pytest.raises(ValueError, match='sha256 hex digest'):
        ledger.add_original('/models/x.pth', 'not-a-hash')
    assert ledger.current_model().checkpoint_sha256 == SHA_ORIGINAL and len(ledger.audit_records()) == 1


# ---------------------------------------------------------------------------------------- redaction


def test_redaction_plan_resume_mismatch_and_finish(ledger):
    ledger.add_request('req-a', FORGET_A)
    files = [('sample-1', '/data/samples/CAM_FRONT/a.jpg', 'a' * 64), ('sample-2', '/data/samples/CAM_BACK/b.jpg',
                                                                        'b' * 64)]
    with pytest.raises(ValueError, match="cannot redact request 'req-a': it is pending, expected published"):
        ledger.plan_redaction('req-a', files, '/quarantine')
    with pytest.raises(ValueError, match="'req-ghost': the ledger has no such request"):
        ledger.plan_redaction('req-ghost', files, None)
    ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.publish(ledger.start_run(['req-a'], 0, '/work/1'), '/models/v1.pth', SHA_V1, {})

    assert ledger.redaction_plan('req-a') is None and ledger.redaction_files('req-a') == []
    ledger.plan_redaction('req-a', files, '/quarantine')
    assert ledger.redaction_files('req-a') == [RedactionFile(t, p, s, False) for t, p, s in files]
    assert ledger.redaction_quarantine('req-a') == '/quarantine'
    ledger.mark_file_redacted('req-a', '/data/samples/CAM_FRONT/a.jpg')
    ledger.plan_redaction('req-a', list(reversed(files)), '/quarantine')  # resume: the same plan is a no-op
    assert [f.done for f in ledger.redaction_files('req-a')] == [True, False]
    with pytest.raises(ValueError, match="'req-a' already has a different redaction plan"):
        ledger.plan_redaction('req-a', files[:1], '/quarantine')
    with pytest.raises(ValueError, match='different redaction plan'):
        ledger.plan_redaction('req-a', files, None)
    with pytest.raises(ValueError, match='different redaction plan'):
        ledger.plan_redaction('req-a', [files[0], (files[1][0], files[1][1], 'c' * 64)], '/quarantine')
    with pytest.raises(ValueError, match="'req-a' has no file /data/elsewhere.jpg"):
        ledger.mark_file_redacted('req-a', '/data/elsewhere.jpg')

    with pytest.raises(ValueError, match=r'1 of 2 files are not redacted yet.*CAM_BACK/b.jpg'):
        ledger.finish_redaction('req-a', dict(files=[]))
    assert ledger.request('req-a').redacted is False
    ledger.mark_file_redacted('req-a', '/data/samples/CAM_BACK/b.jpg')
    ledger.mark_file_redacted('req-a', '/data/samples/CAM_BACK/b.jpg')  # idempotent
    record = dict(files=[dict(path=p, sha256=s) for _, p, s in files])
    ledger.finish_redaction('req-a', record)
    assert ledger.request('req-a').redacted is True
    assert ledger.head().kind == 'redact'
    assert ledger.head().payload == dict(request_id='req-a', quarantine='/quarantine', record=record)
    with pytest.raises(ValueError, match="'req-a': it is published and already redacted"):
        ledger.plan_redaction('req-a', files, '/quarantine')
    with pytest.raises(ValueError, match='already redacted'):
        ledger.finish_redaction('req-a', record)
    assert [r.kind for r in ledger.audit_records()].count('redact') == 1


def test_redaction_refuses_duplicate_paths_and_a_finish_without_plan(ledger):
    _published(ledger)
    with pytest.raises(ValueError, match=r"\['/x.jpg'\] more than once"):
        ledger.plan_redaction('req-a', [('s1', '/x.jpg', 'a' * 64), ('s2', '/x.jpg', 'b' * 64)], None)
    with pytest.raises(ValueError, match="'req-a': it has no redaction plan"):
        ledger.finish_redaction('req-a', {})
    assert ledger.redaction_plan('req-a') is None and ledger.request('req-a').redacted is False


# --------------------------------------------------------------------------------- damaged ledgers


def _real_ledger(path) -> None:
    """A ledger with some history, checkpointed so that the main file holds all of it."""
    with Ledger(str(path)) as ledger:
        for k in range(4):
            _published(ledger, f'req-{k}', dict(FORGET_A, k=k, padding='x' * 2000))
    conn = _raw(path)
    assert conn.execute('PRAGMA wal_checkpoint(TRUNCATE)').fetchone()[0] == 0
    conn.close()


def _zero_bytes(path):
    path.write_bytes(b'')


def _random_bytes(path):
    path.write_bytes(os.urandom(3 * 4096))


def _truncated_half(path):
    real = path.parent / 'real.sqlite'
    _real_ledger(real)
    with Ledger(str(real)) as intact:  # the full copy is a ledger: only the truncation is refused
        assert len(intact.requests('published')) == 4
    data = real.read_bytes()
    path.write_bytes(data[:len(data) // 2])


def _foreign_sqlite(path):
    conn = _raw(path)
    conn.execute('CREATE TABLE detections (token TEXT, score REAL)')
    conn.execute("INSERT INTO detections VALUES ('t', 0.5)")
    conn.close()


def _other_schema_version(path):
    _real_ledger(path)
    conn = _raw(path)
    conn.execute("UPDATE meta SET value = '2' WHERE key = 'schema_version'")
    conn.execute('PRAGMA wal_checkpoint(TRUNCATE)')
    conn.close()


def _damaged_page(path):
    _real_ledger(path)
    conn = _raw(path)
    page_size = conn.execute('PRAGMA page_size').fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'requests'").fetchone()[0]
    conn.close()
    with open(path, 'r+b') as f:
        f.seek((root - 1) * page_size)
        f.write(b'\xff' * page_size)


@pytest.mark.parametrize('damage, detail', [
    (_zero_bytes, 'empty'),
    (_random_bytes, 'not an SQLite database'),
    (_truncated_half, 'truncated'),
    (_foreign_sqlite, 'no meta table'),
    (_other_schema_version, "schema_version is '2'"),
    (_damaged_page, 'malformed|quick_check'),
], ids=['zero-bytes', 'random-bytes', 'truncated-half', 'foreign-sqlite', 'schema-version-2', 'damaged-page'])
def test_a_damaged_or_foreign_file_is_refused_and_left_untouched(tmp_path, damage, detail):
    path = tmp_path / 'ledger.sqlite'
    damage(path)
    before = _sha_of_file(path)
    for _ in range(2):  # a second attempt sees the same file: nothing was recreated
        with pytest.raises(LedgerError) as error:
            Ledger(str(path))
        message = str(error.value)
        assert str(path) in message and 'is not a valid ccu_av takedown ledger' in message
        assert re.search(detail, message) and 'never silently recreated' in message and 'backup' in message
        assert _sha_of_file(path) == before


def test_damage_found_after_opening_raises_ledger_error(tmp_path):
    path = tmp_path / 'ledger.sqlite'
    _real_ledger(path)
    conn = _raw(path)
    page_size = conn.execute('PRAGMA page_size').fetchone()[0]
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'runs'").fetchone()[0]
    conn.close()
    with Ledger(str(path)) as ledger:
        with open(path, 'r+b') as f:  # damaged under an open ledger, before it read the runs table
            f.seek((root - 1) * page_size)
            f.write(b'\xff' * page_size)
        with pytest.raises(LedgerError, match=rf'{path} is not a valid ccu_av takedown ledger.*damage'):
            ledger.runs()


# ------------------------------------------------------------------------------------------- audit


def _history(ledger: Ledger) -> None:
    """Six audit records: original, submit, submit, run-start, publish, submit."""
    ledger.add_original('/models/original.pth', SHA_ORIGINAL)
    ledger.add_request('req-a', FORGET_A)
    ledger.add_request('req-b', FORGET_B)
    ledger.publish(ledger.start_run(['req-a', 'req-b'], 0, '/work/1'), '/models/v1.pth', SHA_V1, dict(gate='pass'))
    ledger.add_request('req-c', dict(FORGET_A, scenes=['scene-0003']))


def test_the_audit_chain_links_each_record_to_the_previous_one(ledger):
    _history(ledger)
    records = ledger.audit_records()
    assert [(r.seq, r.kind) for r in records] == [(1, 'original'), (2, 'submit'), (3, 'submit'), (4, 'run-start'),
                                                  (5, 'publish'), (6, 'submit')]
    assert records[0].prev_sha256 == ZERO_SHA256 == '0' * 64
    for previous, record in zip([None] + records[:-1], records):
        assert record.prev_sha256 == (previous.sha256 if previous else ZERO_SHA256)
        assert record.sha256 == audit_record_sha256(record.seq, record.kind, record.created_at, record.prev_sha256,
                                                    record.payload)
        assert record.sha256 == hashlib.sha256(canonical_json(dict(
            seq=record.seq, kind=record.kind, created_at=record.created_at, prev_sha256=record.prev_sha256,
            payload=record.payload)).encode()).hexdigest()
    assert ledger.head() == records[-1]
    assert ledger.verify_audit() == []
    stored = _raw(ledger.path).execute('SELECT payload FROM audit WHERE seq = 2').fetchone()[0]
    assert stored == canonical_json(records[1].payload)


def _tamper(path, *statements) -> None:
    conn = _raw(path)
    for statement in statements:
        conn.execute(statement)
    conn.close()


def test_a_changed_payload_is_named_by_seq(ledger):
    _history(ledger)
    payload = json.dumps(dict(ledger.audit_records()[1].payload, content=dict(FORGET_A, scenes=[])))
    _tamper(ledger.path, f"UPDATE audit SET payload = '{payload}' WHERE seq = 2")
    problems = ledger.verify_audit()
    assert len(problems) == 1
    assert 'seq 2 (kind submit) changed' in problems[0]


def test_a_deleted_middle_record_is_named_by_the_seq_after_it(ledger):
    _history(ledger)
    _tamper(ledger.path, 'DELETE FROM audit WHERE seq = 3')
    problems = ledger.verify_audit()
    assert len(problems) == 1
    assert 'seq 4 (kind run-start)' in problems[0] and 'missing or reordered before seq 4' in problems[0]


def test_swapped_records_are_named_by_seq(ledger):
    _history(ledger)
    records = {r.seq: r for r in ledger.audit_records()}
    # swap the kinds and payloads of seq 2 and 4
    _tamper(ledger.path,
            'UPDATE audit SET kind = (SELECT kind FROM audit WHERE seq = 4), payload = (SELECT payload FROM audit '
            'WHERE seq = 4) WHERE seq = 2',
            f"UPDATE audit SET kind = 'submit', payload = '{canonical_json(records[2].payload)}' WHERE seq = 4")
    problems = ledger.verify_audit()
    assert len(problems) == 2
    assert 'seq 2 (kind run-start) changed' in problems[0] and 'seq 4 (kind submit) changed' in problems[1]


def test_reordered_whole_records_are_named_by_seq(ledger):
    _history(ledger)
    conn = _raw(ledger.path)
    rows = {row[0]: row[1:] for row in conn.execute(
        'SELECT seq, kind, created_at, payload, prev_sha256, sha256 FROM audit WHERE seq IN (2, 3)')}
    for seq, other in ((2, 3), (3, 2)):  # every column but seq moves: records 2 and 3 change places
        conn.execute('UPDATE audit SET kind = ?, created_at = ?, payload = ?, prev_sha256 = ?, sha256 = ? '
                     'WHERE seq = ?', (*rows[other], seq))
    conn.close()
    problems = ledger.verify_audit()
    joined = '\n'.join(problems)
    for seq in (2, 3, 4):
        assert f'missing or reordered before seq {seq}' in joined
    assert 'seq 2 (kind submit) changed' in joined and 'seq 3 (kind submit) changed' in joined
    assert not any('seq 5' in p or 'seq 6' in p for p in problems)


def test_a_deleted_last_record_is_detected_through_the_head_in_meta(ledger):
    _history(ledger)
    _tamper(ledger.path, 'DELETE FROM audit WHERE seq = 6')
    problems = ledger.verify_audit()
    assert len(problems) == 1
    assert 'meta records the head as seq 6' in problems[0] and 'the last record is seq 5 (kind publish)' in problems[0]
    assert 'records after seq 5 are missing' in problems[0]
    # appending chains to the head in meta, so the hole stays visible
    ledger.add_request('req-d', FORGET_B)
    assert ledger.head().seq == 7
    problems = ledger.verify_audit()
    assert len(problems) == 1 and 'missing or reordered before seq 7' in problems[0]


# ------------------------------------------------------------------------------------- concurrency


def test_two_ledgers_on_one_file_interleave_writes_consistently(ledger_path):
    with Ledger(ledger_path) as first, Ledger(ledger_path) as second:
        assert first.add_request('req-a', FORGET_A) is True
        assert second.add_request('req-a', FORGET_A) is False  # sees the first one's commit
        assert second.add_request('req-b', FORGET_B) is True
        with pytest.raises(ValueError, match='different content'):
            first.add_request('req-b', FORGET_A)
        second.add_original('/models/original.pth', SHA_ORIGINAL)
        run_id = first.start_run(['req-a', 'req-b'], 0, '/work/1')
        assert second.run(run_id).state == 'running'
        with pytest.raises(ValueError, match='already in running run'):
            second.start_run(['req-b'], 0, '/work/2')
        assert second.publish(run_id, '/models/v1.pth', SHA_V1, {}) == 1
        with pytest.raises(ValueError, match='expected running'):
            first.fail_run(run_id, 'too late', {})
        assert [r.state for r in first.requests()] == ['published', 'published']
        assert first.current_model().version == 1
        records = first.audit_records()
        assert [r.seq for r in records] == list(range(1, 6))
        assert [r.kind for r in records] == ['submit', 'submit', 'original', 'run-start', 'publish']
        assert first.verify_audit() == [] and second.verify_audit() == []


def test_threads_with_their_own_ledgers_write_without_losing_records(ledger_path):
    Ledger(ledger_path).close()
    errors = []

    def submit(worker: int) -> None:
        try:
            with Ledger(ledger_path) as ledger:
                for k in range(15):
                    ledger.add_request(f'req-{worker}-{k}', dict(FORGET_A, worker=worker, k=k))
        except Exception as error:  # noqa: BLE001  (reported by the assertion below)
            errors.append(error)

    threads = [threading.Thread(target=submit, args=(worker,)) for worker in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    with Ledger(ledger_path) as ledger:
        assert len(ledger.requests('pending')) == 45
        assert [r.seq for r in ledger.audit_records()] == list(range(1, 46))
        assert ledger.verify_audit() == []


# -------------------------------------------------------------------------------------------- lock


def test_the_run_lock_admits_one_holder_and_names_it(ledger_path):
    with RunLock(ledger_path) as lock:
        assert lock.held and lock.path == ledger_path + '.lock'
        assert json.loads(Path(lock.path).read_text())['pid'] == os.getpid()
        with pytest.raises(LedgerLocked) as error:
            RunLock(ledger_path).acquire()
        assert error.value.holder_pid == os.getpid() and error.value.lock_path == lock.path
        assert f'{lock.path} is locked by pid {os.getpid()}' in str(error.value)
        assert 'another `tools/takedown.py run` holds it' in str(error.value)
    assert not lock.held and Path(lock.path).read_text() == ''
    with RunLock(ledger_path) as again:
        assert again.held


def test_waiting_for_the_run_lock_times_out_or_gets_it_when_released(ledger_path):
    holder = RunLock(ledger_path).acquire()
    start = time.monotonic()
    with pytest.raises(LedgerLocked, match=r'after waiting 0.3 s'):
        RunLock(ledger_path, wait=True, timeout_s=0.3).acquire()
    assert time.monotonic() - start >= 0.3
    timer = threading.Timer(0.2, holder.release)
    timer.start()
    try:
        with RunLock(ledger_path, wait=True, timeout_s=10) as waited:
            assert waited.held and not holder.held
    finally:
        timer.join()


def test_the_run_lock_is_released_when_its_process_is_killed(ledger_path):
    child_code = (
        'import sys, time\n'
        f'sys.path.insert(0, {str(LEDGER_MODULE.parents[2])!r})\n'
        'from ccu_av.takedown.ledger import RunLock\n'
        f'lock = RunLock({ledger_path!r}).acquire()\n'
        'print("locked", flush=True)\n'
        'time.sleep(60)\n')
    child = subprocess.Popen([sys.executable, '-c', child_code], stdout=subprocess.PIPE, text=True)
    try:
        ready, _, _ = select.select([child.stdout], [], [], 30)
        assert ready and child.stdout.readline().strip() == 'locked'
        with pytest.raises(LedgerLocked) as error:
            RunLock(ledger_path).acquire()
        assert error.value.holder_pid == child.pid and f'pid {child.pid}' in str(error.value)
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
        with RunLock(ledger_path) as lock:
            assert lock.held
            assert json.loads(Path(lock.path).read_text())['pid'] == os.getpid()
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        child.stdout.close()
