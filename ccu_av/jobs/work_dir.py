"""One job per work dir: a work dir is claimed by the job that first writes to it."""
import hashlib
import json
import os.path as osp
from dataclasses import asdict
from typing import Dict

from mmengine.config import Config

from ..utils import read_json, write_json_atomic
from .config import takedown_request

JOB_FILE = 'job.json'


class WorkDirConflict(RuntimeError):
    """The work dir holds another job's results."""


def job_identity(cfg: Config) -> Dict[str, str]:
    """What makes two runs the same job: the config (less its work dir) and the takedown."""
    cfg = cfg.copy()
    cfg.work_dir = None
    cfg.resume = False
    cfg.load_from = None
    return dict(config_sha256=hashlib.sha256(cfg.pretty_text.encode()).hexdigest(),
                takedown=json.dumps(asdict(takedown_request(cfg)), sort_keys=True))


def check_work_dir(work_dir: str, cfg: Config) -> bool:
    """Refuse (``WorkDirConflict``) a work dir that holds another job's results, writing nothing;
    True when it is already this job's."""
    identity = job_identity(cfg)
    path = osp.join(work_dir, JOB_FILE)
    if osp.exists(work_dir) and not osp.isdir(work_dir):
        raise WorkDirConflict(f'work dir {work_dir} exists and is not a folder; pass another --work-dir')
    if not osp.isfile(path):
        return False
    other = read_json(path, 'remove it or pass another --work-dir', WorkDirConflict)
    if other != identity:
        raise WorkDirConflict(
            f'work dir {work_dir} holds the results of another job (config sha256 '
            f'{other.get("config_sha256", "?")[:12]}, takedown {other.get("takedown")}); '
            f'this one is {identity["config_sha256"][:12]}, takedown {identity["takedown"]}. '
            'Pass a fresh --work-dir: results of different jobs are never mixed.')
    return True


def claim_work_dir(work_dir: str, cfg: Config) -> None:
    """:func:`check_work_dir`, then mark the work dir as this job's."""
    if not check_work_dir(work_dir, cfg):
        write_json_atomic(osp.join(work_dir, JOB_FILE), job_identity(cfg))
