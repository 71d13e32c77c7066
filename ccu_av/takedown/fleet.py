"""Fleet takedown jobs: requests in, verified models out, footage redacted (``docs/takedown.md``).

:class:`Fleet` is what ``tools/takedown.py`` drives:

    submit  a request file, validated against the dataset, recorded as pending
    run     the pending requests merged into one forget set, unlearned from the published model
            through the job steps of ``tools/unlearn.py`` (``ccu_av.jobs.steps``), evaluated, passed
            through the verification gate, published as a new model version or left pending
    redact  a published request's camera files removed from the dataroot (or quarantined)
    verify  the audit chain, its exported copies and the published models' hashes

State is the SQLite ledger's (``ledger.py``); one runner at a time holds its lock. A run killed
at any point leaves the ledger as it was before the run's last committed change: a model is
published, with its requests and audit record, in one transaction, after its file is complete.
"""
import hashlib
import os
import os.path as osp
import shutil
import time
from dataclasses import asdict
from typing import Callable, Dict, List, Optional, Sequence, Tuple

import mmengine
from mmengine.config import Config
from mmengine.logging import MMLogger

from ..datasets import record_redaction, redacted_samples, records_from_info_file
from ..jobs import load_job_config, method_name, steps
from ..jobs.config import data_settings
from ..jobs.steps import TrainedModel
from ..utils import atomic_write, code_version, file_sha256, read_json
from .audit import export_audit, verify_exports, write_run_report
from .config import FleetConfig
from .gate import describe_verdict, verification_gate
from .ledger import Ledger, RunLock
from .request import load_request, merged_takedown, parse_request, resolve_request

Progress = Callable[[str], None]


class TakedownError(RuntimeError):
    """A takedown command that cannot proceed; the message says why and what to do."""


def pose_records(info_file: str) -> List[dict]:
    """The training samples' selection records with the ego position ``x``, ``y`` that
    geofences test (``records_from_info_file(..., with_pose=True)``)."""
    return records_from_info_file(info_file, with_pose=True)


class Fleet:
    """The takedown jobs of one fleet config."""

    def __init__(self, config: FleetConfig, progress: Optional[Progress] = None):
        self.config = config
        self.progress = progress or (lambda line: MMLogger.get_current_instance().info(line))
        self.models_dir = osp.join(config.root, 'models')
        self.runs_dir = osp.join(config.root, 'runs')
        self.audit_dir = osp.join(config.root, 'audit')

    # --- what every command reads ---------------------------------------------------------------
    def job_config(self) -> Config:
        """The unlearning job of every run, with the fleet's ``cfg_options``."""
        return load_job_config(self.config.job_config, self.config.cfg_options)

    def ledger(self) -> Ledger:
        return Ledger(self.config.ledger)

    def _lock(self) -> RunLock:
        wait = self.config.lock_wait_s
        return RunLock(self.config.ledger, wait=wait > 0, timeout_s=wait or None)

    # --- submit ----------------------------------------------------------------------------------
    def submit(self, request_file: str) -> Tuple[str, bool, int]:
        """Validate a request file against the dataset and record it as pending.

        Returns:
            (request id, whether it was added (False: an identical request was there already),
            the number of training samples it flags).
        """
        request = load_request(request_file)
        job = self.job_config()
        files = steps.data(job)
        tokens = resolve_request(request, pose_records(files.train_info), files.train_info)
        with self.ledger() as ledger:
            added = ledger.add_request(request.id, request.content)
            export_audit(ledger, self.audit_dir)
        return request.id, added, len(tokens)

    # --- run -------------------------------------------------------------------------------------
    def run(self, request_ids: Optional[Sequence[str]] = None) -> Optional[dict]:
        """Unlearn the pending requests from the published model; publish it if the gate passes.

        Args:
            request_ids: run only these pending requests (the others stay pending and wait for a
                later run); None runs every pending request. A request that is not in the ledger
                or not pending is refused before anything trains.

        Returns:
            None when nothing is pending, else ``{'run_id', 'request_ids', 'passed', 'verdict',
            'version' (published, or None), 'report'}``.
        """
        with self._lock(), self.ledger() as ledger:
            export_audit(ledger, self.audit_dir)
            for stale in ledger.runs('running'):
                ledger.interrupt_run(stale.id, 'the process running it stopped before it finished '
                                               '(killed or crashed); the next run redoes it')
                self.progress(f'run {stale.id} was interrupted; its requests are pending again')
            pending = [r.id for r in ledger.requests('pending')]
            if request_ids is not None:
                pending = self._pending_subset(ledger, pending, request_ids)
            if not pending:
                self.progress('no pending request: nothing to do')
                return None
            outcome = self._run(ledger, pending)
            export_audit(ledger, self.audit_dir)
            return outcome

    @staticmethod
    def _pending_subset(ledger: Ledger, pending: List[str], request_ids: Sequence[str]) -> List[str]:
        """``request_ids`` in submission order, each checked to be a pending request of the ledger."""
        if not request_ids:
            raise TakedownError('run: no request id given; name one or more pending requests, or none to run them all')
        for request_id in request_ids:
            request = ledger.request(request_id)
            if request is None:
                raise TakedownError(f'run: request {request_id!r} is not in the ledger; the requests are '
                                    f'{[r.id for r in ledger.requests()]} (tools/takedown.py list)')
            if request.state != 'pending':
                raise TakedownError(f'run: request {request_id!r} is {request.state}, not pending; only pending '
                                    f'requests can be run ({pending or "none is pending"})')
        named = set(request_ids)
        return [request_id for request_id in pending if request_id in named]

    def _run(self, ledger: Ledger, request_ids: List[str]) -> dict:
        start = time.monotonic()
        job = self.job_config()
        files = steps.data(job)
        records = pose_records(files.train_info)
        flagged = {}
        for request_id in request_ids:
            request = parse_request(ledger.request(request_id).content, source=f'request {request_id}')
            flagged[request_id] = list(resolve_request(request, records, files.train_info))
        current = self._current_model(ledger, job, files)
        forget = sorted({t for tokens in flagged.values() for t in tokens})
        erased = sorted(self.forgotten_tokens(ledger) - set(forget))
        cfg = run_config(job, forget, erased, current.checkpoint)
        sets = steps.select(cfg, files)
        before = TrainedModel(checkpoint=current.checkpoint, checkpoint_sha256=current.checkpoint_sha256)
        steps.check_method(cfg)
        steps.check_original(cfg, before)
        self.progress(f'run of {request_ids}: {len(forget)} flagged samples, from model v{current.version}')
        work_dir = osp.join(self.runs_dir, time.strftime('%Y%m%d-%H%M%S') + f'-{os.getpid()}')
        run_id = ledger.start_run(request_ids, current.version, work_dir)
        record = dict(run_id=run_id, request_ids=request_ids, flagged=flagged, input=dict(
            version=current.version, checkpoint=current.checkpoint, sha256=current.checkpoint_sha256),
            job_config=self.config.job_config, job_config_sha256=_config_sha256(cfg), code_version=code_version(),
            fleet_config=self.config.source, gate_thresholds=self.config.gate, camera_erased_before=len(erased))
        try:
            sets.selection.dump(osp.join(work_dir, 'takedown'))
            times = dict(setup_s=time.monotonic() - start)
            tick = time.monotonic()
            self.progress(f'run {run_id}: unlearning with {method_name(cfg)}')
            after = steps.unlearn(cfg, work_dir, before)
            times['unlearn_s'] = time.monotonic() - tick
            tick = time.monotonic()
            self.progress(f'run {run_id}: evaluating both models and the membership attack')
            names = dict(before=f'v{current.version}', after=method_name(cfg))
            paths = steps.report(cfg, {names['before']: ('original', before), names['after']: ('unlearned', after)},
                                 sets, osp.join(work_dir, 'report'), config_path=self.config.job_config)
            report = read_json(paths['json'], 'the run writes it again on the next `run`')
            verdict = verification_gate(report, names['before'], names['after'], self.config.gate)
            times['evaluation_and_gate_s'] = time.monotonic() - tick
            record.update(output=dict(checkpoint=after.checkpoint, sha256=after.checkpoint_sha256),
                          metrics=dict(before=report['models'][names['before']]['figures'],
                                       after=report['models'][names['after']]['figures']),
                          membership={k: report.get('membership_inference', {}).get(v)
                                      for k, v in names.items()}, gate=verdict)
            tick = time.monotonic()
            human = write_run_report(work_dir, record, paths, job if self.config.pictures else None,
                                     sets.forget_eval[:1], (before, after), self.progress)
            times['audit_report_s'] = time.monotonic() - tick
            record.update(report=human, times=dict(times, total_s=time.monotonic() - start))
        except BaseException as error:  # Ctrl-C included: the run is recorded as failed, not left running
            ledger.fail_run(run_id, f'{type(error).__name__}: {error}', dict(record, error=repr(error)))
            raise
        if not verdict['passed']:
            reason = f'verification gate {describe_verdict(verdict)}'
            ledger.fail_run(run_id, reason, record)
            self.progress(f'run {run_id}: not published: {reason}; its requests stay pending')
            return dict(run_id=run_id, request_ids=request_ids, passed=False, verdict=verdict, version=None,
                        report=human)
        version = current.version + 1
        published = osp.join(self.models_dir, f'v{version:04d}.pth')
        _copy_atomic(after.checkpoint, published)
        if file_sha256(published) != after.checkpoint_sha256:
            raise TakedownError(f'{published} does not hash to the unlearned model\'s sha256; disk problem?')
        record['published'] = dict(version=version, checkpoint=published)
        got = ledger.publish(run_id, published, after.checkpoint_sha256, record)
        assert got == version, (got, version)  # the lock is held: no other runner published meanwhile
        self.progress(f'run {run_id}: gate passed; published model v{version} ({published})')
        return dict(run_id=run_id, request_ids=request_ids, passed=True, verdict=verdict, version=version,
                    report=human)

    def _current_model(self, ledger: Ledger, job: Config, files: steps.DataFiles):
        """The published model the next run starts from; the configured original (trained once
        and cached when the job config names none) is recorded as version 0 on the first run."""
        if not ledger.models():
            original = steps.original(job, files)
            ledger.add_original(original.checkpoint, original.checkpoint_sha256)
        current = ledger.current_model()
        if not osp.isfile(current.checkpoint) or file_sha256(current.checkpoint) != current.checkpoint_sha256:
            raise TakedownError(f'published model v{current.version} ({current.checkpoint}) is missing or no '
                                'longer hashes to the ledger\'s sha256; restore it before running')
        return current

    def forgotten_tokens(self, ledger: Ledger) -> set:
        """The samples of every published request (what the published model has forgotten)."""
        return {t for tokens in self.published_flags(ledger).values() for t in tokens}

    @staticmethod
    def published_flags(ledger: Ledger) -> Dict[str, List[str]]:
        """Request id -> the samples its publishing run flagged (from the run's audit record)."""
        flags = {}
        for record in ledger.audit_records():
            if record.kind == 'publish':
                for request_id in record.payload['request_ids']:
                    flags[request_id] = record.payload['record']['flagged'][request_id]
        return flags

    # --- status ----------------------------------------------------------------------------------
    def status(self) -> dict:
        """Requests, model versions and runs as plain records."""
        with self.ledger() as ledger:
            return dict(requests=[asdict(r) for r in ledger.requests()], models=[asdict(m) for m in ledger.models()],
                        runs=[asdict(r) for r in ledger.runs()])

    # --- redact ----------------------------------------------------------------------------------
    def redact(self, request_id: str, quarantine: Optional[str] = None) -> dict:
        """Remove (or move to ``quarantine``) the camera files of a published request's samples.

        The plan (every file with its sha256) is recorded in the ledger and the samples in the
        dataroot's redaction record before the first file is touched; an interrupted redaction
        resumes from the plan. Returns ``{'request_id', 'files', 'already'}``.
        """
        with self._lock(), self.ledger() as ledger:
            export_audit(ledger, self.audit_dir)
            request = ledger.request(request_id)
            if request is None:
                raise TakedownError(f'no request {request_id!r} in the ledger {self.config.ledger}')
            if request.state != 'published':
                raise TakedownError(f'request {request_id} is {request.state}: its footage is redacted only '
                                    'after a model that forgot it has passed the gate and been published; '
                                    'nothing was removed')
            if request.redacted:
                return dict(request_id=request_id, files=len(ledger.redaction_files(request_id)), already=True)
            job = self.job_config()
            data_root = data_settings(job)['data_root']
            plan = ledger.redaction_files(request_id)
            if plan:
                if ledger.redaction_quarantine(request_id) != quarantine:
                    raise TakedownError(f'request {request_id}: an interrupted redaction to quarantine '
                                        f'{ledger.redaction_quarantine(request_id)!r} is to be resumed; '
                                        f'pass the same --quarantine, not {quarantine!r}')
            else:
                tokens = self.published_flags(ledger)[request_id]
                files = camera_files(job, tokens)
                planned = [(token, path, file_sha256(osp.join(data_root, path))) for token, path in files]
                ledger.plan_redaction(request_id, planned, quarantine)
                plan = ledger.redaction_files(request_id)
            by_token: Dict[str, List[str]] = {}
            for entry in plan:
                by_token.setdefault(entry.token, []).append(entry.path)
            record_redaction(data_root, by_token)  # the data layer stops reading them from here on
            for entry in plan:
                if not entry.done:
                    _remove_file(data_root, entry.path, entry.sha256, quarantine)
                    ledger.mark_file_redacted(request_id, entry.path)
            ledger.finish_redaction(request_id, dict(
                request_id=request_id, data_root=data_root, quarantine=quarantine,
                files=[dict(token=e.token, path=e.path, sha256=e.sha256) for e in plan]))
            export_audit(ledger, self.audit_dir)
            self.progress(f'request {request_id}: {len(plan)} camera files '
                          f'{"moved to " + quarantine if quarantine else "deleted"}')
            return dict(request_id=request_id, files=len(plan), already=False)

    # --- verify ----------------------------------------------------------------------------------
    def verify(self) -> List[str]:
        """Problems of the audit chain, of its exported copies and of the published models'
        files (empty: all intact). Copies a killed process did not write yet are written first:
        the ledger's chain is the record, the copies are checked against it."""
        with self.ledger() as ledger:
            export_audit(ledger, self.audit_dir)
            problems = ledger.verify_audit() + verify_exports(ledger, self.audit_dir)
            for model in ledger.models():
                if not osp.isfile(model.checkpoint):
                    problems.append(f'model v{model.version}: {model.checkpoint} is missing')
                elif file_sha256(model.checkpoint) != model.checkpoint_sha256:
                    problems.append(f'model v{model.version}: {model.checkpoint} no longer hashes to the '
                                    f'recorded sha256 {model.checkpoint_sha256[:12]}')
        return problems


def run_config(job: Config, forget: Sequence[str], camera_erased: Sequence[str], checkpoint: str) -> Config:
    """The job config of one run: the merged forget set, the earlier takedowns' samples camera-
    erased in the training data (so retain training cannot bring their footage back), starting
    from the published model."""
    cfg = job.copy()
    cfg.train_dataloader.dataset.takedown = asdict(merged_takedown([forget]))
    cfg.train_dataloader.dataset.dataset.camera_erased_tokens = list(camera_erased) or None
    cfg.model.original_checkpoint = checkpoint
    return cfg


def camera_files(job: Config, tokens: Sequence[str]) -> List[Tuple[str, str]]:
    """(sample token, camera file relative to the dataroot) of every camera frame of ``tokens``:
    key frames and the sweeps between them (nuScenes ties each to a sample), read with the devkit;
    files an earlier redaction already removed are left out."""
    from nuscenes.nuscenes import NuScenes
    settings = data_settings(job)
    nusc = NuScenes(version=settings['version'], dataroot=settings['data_root'], verbose=False)
    done = {path for paths in redacted_samples(settings['data_root']).values() for path in paths}
    wanted = set(tokens)
    files = []
    for record in nusc.sample_data:
        if record['sample_token'] in wanted and record['sensor_modality'] == 'camera' and record['filename'] not in done:
            files.append((record['sample_token'], record['filename']))
    missing = [path for _, path in files if not osp.isfile(osp.join(settings['data_root'], path))]
    if missing:
        raise TakedownError(f'{len(missing)} camera files of the request are not in {settings["data_root"]} '
                            f'(first: {missing[0]}); they cannot be hashed for the audit record')
    return sorted(files)


def _remove_file(data_root: str, path: str, sha256: str, quarantine: Optional[str]) -> None:
    """Delete ``data_root/path``, or move it to ``quarantine/path`` (checked against ``sha256``);
    a step an interrupted redaction already did is skipped."""
    source = osp.join(data_root, path)
    if quarantine is None:
        if osp.exists(source):
            os.remove(source)
        return
    target = osp.join(quarantine, path)
    if osp.isfile(target) and file_sha256(target) == sha256:
        if osp.exists(source):
            os.remove(source)  # moved before the interruption, source not yet gone
        return
    if not osp.isfile(source):
        raise TakedownError(f'{source} is gone and {target} is not its copy (sha256 {sha256[:12]}); '
                            'the file was changed outside the takedown tool')
    mmengine.mkdir_or_exist(osp.dirname(target))
    tmp = target + '.partial'
    shutil.copyfile(source, tmp)
    with open(tmp, 'rb') as f:
        os.fsync(f.fileno())
    if file_sha256(tmp) != sha256:
        os.remove(tmp)
        raise TakedownError(f'{source} no longer hashes to its planned sha256 {sha256[:12]}; it changed '
                            'since the redaction was planned')
    os.replace(tmp, target)
    os.remove(source)


def _copy_atomic(source: str, target: str) -> None:
    with open(source, 'rb') as f:
        atomic_write(target, f.read())


def _config_sha256(cfg: Config) -> str:
    return hashlib.sha256(cfg.pretty_text.encode()).hexdigest()


