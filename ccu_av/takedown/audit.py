"""The audit trail outside the ledger: exported record copies and each run's readable report.

Every ledger audit record (``ledger.py``: chained by sha256) is also exported, once, as
``<root>/audit/<seq>-<kind>.json``, so that a reviewer can read and archive the trail without
SQLite, and ``verify`` checks the copies against the chain (a changed or deleted copy, or a copy
whose record left the ledger, is named). A run also writes ``audit_report.md`` into its work
dir: the gate's checks, the figures before and after, where the time went, the evaluation plot
and open3d pictures of a flagged sample with the camera-only predictions of both models.
"""
import json
import os
import os.path as osp
import shutil
from typing import Callable, List, Mapping, Optional, Sequence, Tuple

from mmengine.config import Config

from ..utils import atomic_write, file_sha256
from .ledger import Ledger, audit_record_sha256

MODES = ('fusion', 'camera', 'radar')


def _export_name(seq: int, kind: str) -> str:
    return f'{seq:06d}-{kind}.json'


def export_audit(ledger: Ledger, audit_dir: str) -> int:
    """Write the copy of every record not exported yet (an existing copy is never rewritten);
    returns how many were written."""
    written = 0
    for record in ledger.audit_records():
        path = osp.join(audit_dir, _export_name(record.seq, record.kind))
        if not osp.exists(path):
            atomic_write(path, json.dumps(_record_dict(record), indent=1, sort_keys=True).encode())
            written += 1
    return written


def verify_exports(ledger: Ledger, audit_dir: str) -> List[str]:
    """Problems of the exported copies against the ledger's chain."""
    problems, expected = [], set()
    for record in ledger.audit_records():
        name = _export_name(record.seq, record.kind)
        expected.add(name)
        path = osp.join(audit_dir, name)
        if not osp.isfile(path):
            problems.append(f'audit copy {path} (record {record.seq}, {record.kind}) is missing')
            continue
        try:
            with open(path) as f:
                copy = json.load(f)
            digest = audit_record_sha256(copy['seq'], copy['kind'], copy['created_at'], copy['prev_sha256'],
                                         copy['payload'])
        except (ValueError, KeyError, TypeError) as error:
            problems.append(f'audit copy {path} (record {record.seq}) is unreadable: {error}')
            continue
        if digest != record.sha256 or copy.get('sha256') != record.sha256:
            problems.append(f'audit copy {path} (record {record.seq}, {record.kind}) was changed: it no '
                            'longer matches the ledger\'s record')
    if osp.isdir(audit_dir):
        for name in sorted(set(os.listdir(audit_dir)) - expected):
            if name.endswith('.json'):
                problems.append(f'audit copy {osp.join(audit_dir, name)} has no record in the ledger '
                                '(the record was deleted or renumbered)')
    return problems


def _record_dict(record) -> dict:
    return dict(seq=record.seq, kind=record.kind, created_at=record.created_at, payload=record.payload,
                prev_sha256=record.prev_sha256, sha256=record.sha256)


def write_run_report(work_dir: str, record: Mapping, report_paths: Mapping[str, str], job: Optional[Config],
                     sample_tokens: Sequence[str], models: Tuple, progress: Callable[[str], None]) -> dict:
    """Write ``work_dir/audit_report.md`` (and its pictures) for a run's audit record.

    Args:
        record: the run's audit payload so far (ids, hashes, metrics, gate verdict).
        report_paths: the run's evaluation report files (``json``, ``md``, ``png``).
        job: the run's job config, for the pictures (None: no pictures).
        sample_tokens: flagged samples to picture (the first is drawn).
        models: (before, after) :class:`~ccu_av.jobs.steps.TrainedModel`.

    Returns:
        ``{'path', 'sha256', 'pictures': [paths], 'pictures_error'}``.
    """
    pictures, error = [], None
    if job is not None and sample_tokens:
        try:
            pictures = _pictures(job, sample_tokens[0], models, osp.join(work_dir, 'pictures'))
        except Exception as cause:  # a picture is evidence, not a gate: say why it is missing
            error = f'{type(cause).__name__}: {cause}'
            progress(f'pictures of sample {sample_tokens[0]} failed: {error}')
    lines = [f'# Takedown run {record["run_id"]}', '',
             f'- requests: {", ".join(record["request_ids"])}',
             f'- flagged training samples: {sum(len(t) for t in record["flagged"].values())}',
             f'- input model: v{record["input"]["version"]} `{record["input"]["sha256"][:16]}` '
             f'({record["input"]["checkpoint"]})',
             f'- unlearned model: `{record["output"]["sha256"][:16]}` ({record["output"]["checkpoint"]})',
             f'- job config: {record["job_config"]} (sha256 `{record["job_config_sha256"][:16]}`), '
             f'code version `{record["code_version"]}`', '',
             f'## Verification gate: {"passed" if record["gate"]["passed"] else "FAILED"}', '',
             '| check | measured | limit | passed | what |', '|---|---|---|---|---|']
    for check in record['gate']['checks']:
        measured = '-' if check['measured'] is None else f'{check["measured"]:.3f}'
        lines.append(f'| {check["name"]} | {measured} | {check["bound"]} {check["limit"]:.3f} | '
                     f'{"yes" if check["passed"] else "**no**"} | {check["what"]} |')
    lines += ['', '## mAP before -> after', '', '| mode | ' + ' | '.join(record['metrics']['after']['fusion']) + ' |',
              '|---|' + '---|' * len(record['metrics']['after']['fusion'])]
    for mode in MODES:
        before, after = record['metrics']['before'][mode], record['metrics']['after'][mode]
        lines.append(f'| {mode} | ' + ' | '.join(f'{before[s]["mAP"]:.3f} -> {after[s]["mAP"]:.3f}'
                                                for s in after) + ' |')
    lines += ['', f'Evaluation plot: {report_paths["png"]}; full report: {report_paths["md"]}', '']
    if pictures:
        lines += ['## A flagged sample, camera-only predictions before and after', '']
        lines += [f'![{osp.basename(p)}](pictures/{osp.basename(p)})' for p in pictures]
    elif error:
        lines += [f'No pictures: {error}']
    path = osp.join(work_dir, 'audit_report.md')
    atomic_write(path, ('\n'.join(lines) + '\n').encode())
    return dict(path=path, sha256=file_sha256(path), pictures=pictures, pictures_error=error)


def _pictures(job: Config, token: str, models: Tuple, out_dir: str) -> List[str]:
    """BEV, camera and open3d pictures of ``token`` with both models' camera-only predictions
    (read from the report's prediction cache)."""
    from ..evaluation.modal_eval import predict_checkpoint
    from ..jobs.config import data_settings, detector_config
    from ..jobs.steps import prediction_cache_dir
    from ..visualization import render_sample
    predictions = {}
    for label, model in zip(('before', 'after'), models):
        _, results = predict_checkpoint(detector_config(job), model.checkpoint, [token], modes=('camera',),
                                        cache_dir=prediction_cache_dir(job))
        predictions[f'{label} (camera)'] = dict(results=results['camera'])
    settings = data_settings(job)
    tmp = out_dir + '.partial'
    shutil.rmtree(tmp, ignore_errors=True)
    paths = render_sample(settings['data_root'], settings['version'], token, tmp, predictions, interactive=False)
    shutil.rmtree(out_dir, ignore_errors=True)
    os.replace(tmp, out_dir)
    return [osp.join(out_dir, osp.basename(str(p))) for p in paths.values()]
