"""One job per work dir: claimed, locked while running, refused to others once complete, and
taken over (the partial outputs moved aside, nothing deleted) after a failed run."""
import json
import multiprocessing
import os

import pytest
from mmengine.config import Config

from ccu_av.jobs import WorkDirConflict, check_work_dir, claim_work_dir, complete_work_dir
from ccu_av.jobs.work_dir import work_dir_state


def _job(location: str) -> Config:
    return Config(dict(train_dataloader=dict(dataset=dict(takedown=dict(locations=[location]))), lr=0.1))


def _outputs(work_dir):
    (work_dir / 'unlearn').mkdir()
    (work_dir / 'unlearn' / 'iter_10.pth').write_bytes(b'partial weights')
    (work_dir / 'takedown.json').write_text('{}')


def test_a_fresh_work_dir_is_claimed_running_and_locked_until_released(tmp_path):
    work_dir, job = tmp_path / 'run', _job('boston-seaport')
    assert work_dir_state(str(work_dir), job) == 'fresh' and not work_dir.exists()  # the check writes nothing
    lock = claim_work_dir(str(work_dir), job)
    assert json.loads((work_dir / 'job.json').read_text())['state'] == 'running'
    for other in (job, _job('singapore-onenorth')):  # nobody may start in it while it runs
        with pytest.raises(WorkDirConflict, match='is running in it now'):
            check_work_dir(str(work_dir), other)
    lock.release()
    assert check_work_dir(str(work_dir), job)  # the same job may continue (or resume) after a failure


def _hold_lock(work_dir, ready, done):
    lock = claim_work_dir(work_dir, _job('boston-seaport'))
    ready.set()
    done.wait(30)
    lock.release()


def test_the_lock_of_another_process_is_seen_and_freed_when_it_dies(tmp_path):
    work_dir = str(tmp_path / 'run')
    context = multiprocessing.get_context('fork')
    ready, done = context.Event(), context.Event()
    holder = context.Process(target=_hold_lock, args=(work_dir, ready, done))
    holder.start()
    assert ready.wait(30)
    with pytest.raises(WorkDirConflict, match=f'{work_dir}: another job is running in it now'):
        check_work_dir(work_dir, _job('singapore-onenorth'))
    holder.kill()  # the OS releases a killed holder's lock
    holder.join()
    assert work_dir_state(work_dir, _job('singapore-onenorth')) == 'partial'


def test_a_corrected_job_takes_over_a_failed_one_and_keeps_its_outputs_aside(tmp_path):
    work_dir, failed, corrected = tmp_path / 'run', _job('boston-seaport'), _job('singapore-onenorth')
    claim_work_dir(str(work_dir), failed).release()  # it failed after the claim, before completing
    _outputs(work_dir)
    assert work_dir_state(str(work_dir), corrected) == 'partial'
    claim_work_dir(str(work_dir), corrected).release()
    (aside,) = [p for p in work_dir.iterdir() if p.name.startswith('superseded-')]
    assert (aside / 'unlearn' / 'iter_10.pth').read_bytes() == b'partial weights'
    assert json.loads((aside / 'job.json').read_text())['takedown'] != json.loads(
        (work_dir / 'job.json').read_text())['takedown']
    assert sorted(p.name for p in work_dir.iterdir()) == ['job.json', 'job.lock', aside.name]
    assert check_work_dir(str(work_dir), corrected)


def test_a_complete_job_or_one_of_unknown_state_is_never_taken_over(tmp_path):
    work_dir, job = tmp_path / 'run', _job('boston-seaport')
    claim_work_dir(str(work_dir), job).release()
    complete_work_dir(str(work_dir))
    assert json.loads((work_dir / 'job.json').read_text())['state'] == 'complete'
    with pytest.raises(WorkDirConflict, match='holds the results of another job'):
        claim_work_dir(str(work_dir), _job('singapore-onenorth'))
    assert check_work_dir(str(work_dir), job)
    legacy = tmp_path / 'legacy'  # written before job states existed: it may have completed
    legacy.mkdir()
    (legacy / 'job.json').write_text(json.dumps(dict(config_sha256='0' * 64, takedown='[]')))
    with pytest.raises(WorkDirConflict, match='holds the results of another job'):
        check_work_dir(str(legacy), job)
    assert os.listdir(legacy) == ['job.json']
