"""One job per work dir: a work dir is claimed by the job that first writes to it.

``job.json`` names the job (its config less the work dir, and its takedown) and its state:
``running`` from the claim until the job has written its report, then ``complete``. While a
job runs it holds ``job.lock`` (:class:`ccu_av.utils.lock.FileLock`, released by the OS even
when the process is killed). A work dir is refused to another job while a job runs in it and
once a job completed in it; a job that failed or was interrupted part-way leaves its partial
state marked ``running`` with the lock free, and a corrected job then takes the work dir over,
moving the partial outputs into ``superseded-<config sha256>-<time>/`` (nothing is deleted).
The same job rerun in its own work dir proceeds (and may ``--resume``).
"""
import hashlib
import json
import os
import os.path as osp
import time
from dataclasses import asdict
from typing import Dict

from mmengine.config import Config
from mmengine.logging import MMLogger

from ..utils import read_json, write_json_atomic
from ..utils.lock import FileLock, LockHeld
from .config import takedown_request

JOB_FILE = 'job.json'
LOCK_FILE = 'job.lock'
SUPERSEDED_PREFIX = 'superseded-'
JOB_STATES = ('running', 'complete')


class WorkDirConflict(RuntimeError):
    """The work dir holds another job's results, or another job is running in it."""


def job_identity(cfg: Config) -> Dict[str, str]:
    """What makes two runs the same job: the config (less its work dir) and the takedown."""
    cfg = cfg.copy()
    cfg.work_dir = None
    cfg.resume = False
    cfg.load_from = None
    return dict(config_sha256=hashlib.sha256(cfg.pretty_text.encode()).hexdigest(),
                takedown=json.dumps(asdict(takedown_request(cfg)), sort_keys=True))


class WorkDirHeld(LockHeld, WorkDirConflict):
    """A job is running in the work dir now (its process holds ``job.lock``)."""


def _lock(work_dir: str) -> FileLock:
    return FileLock(osp.join(work_dir, LOCK_FILE), 'a job is running in this work dir; wait for it to finish '
                    'or pass another --work-dir', error=WorkDirHeld)


def _running_now(work_dir: str) -> bool:
    """Whether a process holds the work dir's lock (tested without creating the lock file)."""
    if not osp.isfile(osp.join(work_dir, LOCK_FILE)):
        return False
    try:
        _lock(work_dir).acquire().release()
    except WorkDirHeld:
        return True
    return False


def work_dir_state(work_dir: str, cfg: Config, lock_held: bool = False) -> str:
    """``'fresh'`` (no job has claimed it), ``'same'`` (this job's, to continue) or ``'partial'``
    (another job's that never completed and is not running: to be taken over); raise
    ``WorkDirConflict`` for a work dir that is not a folder, holds another job's complete results,
    or has a job running in it (``lock_held``: this process holds the lock, so none can be).
    Writes nothing."""
    path = osp.join(work_dir, JOB_FILE)
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise WorkDirConflict(f'work dir {work_dir} exists and is not a folder; pass another --work-dir')
    if not osp.isfile(path):
        return 'fresh'
    other = read_json(path, 'remove it or pass another --work-dir', WorkDirConflict)
    identity = job_identity(cfg)
    if not lock_held and _running_now(work_dir):
        holder = 'this job' if {k: other.get(k) for k in identity} == identity else 'another job'
        raise WorkDirConflict(f'work dir {work_dir}: {holder} is running in it now (it holds {LOCK_FILE}); '
                              'wait for it to finish or pass another --work-dir')
    if {k: other.get(k) for k in identity} == identity:
        return 'same'
    # a job.json without a state was written before states existed, by a job that may have completed
    if other.get('state') == 'running':
        return 'partial'
    raise WorkDirConflict(
        f'work dir {work_dir} holds the results of another job (config sha256 '
        f'{other.get("config_sha256", "?")[:12]}, takedown {other.get("takedown")}); '
        f'this one is {identity["config_sha256"][:12]}, takedown {identity["takedown"]}. '
        'Pass a fresh --work-dir: results of different jobs are never mixed.')


def check_work_dir(work_dir: str, cfg: Config) -> bool:
    """:func:`work_dir_state` (refusing what it refuses); True when it is already this job's."""
    return work_dir_state(work_dir, cfg) == 'same'


def claim_work_dir(work_dir: str, cfg: Config) -> FileLock:
    """Take the work dir's lock, check it again under the lock, move another job's partial outputs
    aside, and mark the work dir as this job's, ``running``. Returns the lock, held: release it
    when the job ends (:func:`complete_work_dir` first if it completed)."""
    lock = _lock(work_dir).acquire()
    try:
        state = work_dir_state(work_dir, cfg, lock_held=True)
        if state == 'partial':
            _supersede(work_dir)
        write_json_atomic(osp.join(work_dir, JOB_FILE), dict(job_identity(cfg), state='running'))
    except BaseException:
        lock.release()
        raise
    return lock


def complete_work_dir(work_dir: str) -> None:
    """Mark the work dir's job ``complete``: from now on no other job may take it over."""
    path = osp.join(work_dir, JOB_FILE)
    write_json_atomic(path, dict(read_json(path, 'remove it or pass another --work-dir'), state='complete'))


def _supersede(work_dir: str) -> str:
    """Move the outputs of the partial job in ``work_dir`` (all but the lock and earlier
    superseded folders) into a new ``superseded-<sha>-<time>/`` folder; returns its path."""
    other = read_json(osp.join(work_dir, JOB_FILE), 'remove it or pass another --work-dir')
    target = osp.join(work_dir, f'{SUPERSEDED_PREFIX}{other.get("config_sha256", "unknown")[:12]}-'
                                f'{time.strftime("%Y%m%d-%H%M%S")}')
    os.makedirs(target)
    for name in sorted(os.listdir(work_dir)):
        if name != LOCK_FILE and not name.startswith(SUPERSEDED_PREFIX):
            os.replace(osp.join(work_dir, name), osp.join(target, name))
    MMLogger.get_current_instance().warning(
        f'work dir {work_dir} held the partial outputs of another job that never completed; they are '
        f'moved to {target}')
    return target
