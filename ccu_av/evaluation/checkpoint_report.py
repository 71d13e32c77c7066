"""The unlearning report of checkpoints: modality-mode figures, membership inference, report files.

What ``tools/unlearn.py`` calls for the original, unlearned and retrained checkpoints: every
checkpoint is evaluated with :func:`evaluate_modes` (one inference pass per mode, cached) and
attacked with :func:`membership_inference` (its features cached too); the report is built and checked in full before
:func:`write_report` writes anything, so any bad input (an empty set, a checkpoint that does not
fit the config, NaN features) leaves no report behind.
"""
import time
from typing import Dict, Mapping, Optional, Sequence

from mmengine.config import Config
from mmengine.logging import MMLogger

from .membership import membership_inference
from .modal_eval import check_sets, evaluate_modes
from ..utils import file_sha256
from .report import SETS, build_report, write_report


def report_checkpoints(cfg: Config, checkpoints: Mapping[str, dict], sets: Mapping[str, Sequence[str]],
                       out_dir: str, cache_dir: Optional[str] = None, config_path: Optional[str] = None,
                       membership: bool = True, membership_kwargs: Optional[dict] = None,
                       wall_times_s: Optional[Dict[str, float]] = None) -> Dict[str, str]:
    """Evaluate checkpoints on forget/retain/val in every mode and write report.json/.md/.png.

    Args:
        cfg: the detector's config (one architecture for all checkpoints).
        checkpoints: model name -> ``{'role', 'checkpoint' (path), 'wall_time_s' (optional)}``;
            roles as :func:`build_report`.
        sets: ``forget``, ``retain``, ``val`` (and maybe more): sample tokens, none empty.
        out_dir: where the report goes.
        cache_dir: prediction cache root, for predictions and membership features (None: always
            run the models).
        config_path: the config file, for the report's ``config`` entry.
        membership: run the camera membership attack on every checkpoint.
        membership_kwargs: ``folds``, ``l2``, ``seed``, ``group_by_scene`` for it.
        wall_times_s: other wall times for the report; ``evaluation`` is added.

    Returns:
        kind (``json``, ``md``, ``png``) -> written path.
    """
    missing = [name for name in SETS if name not in sets]
    if missing:
        raise ValueError(f'the report needs the sets {SETS}; missing {missing}')
    sets = check_sets(sets)
    start = time.perf_counter()
    figures, models, attacks = {}, {}, {}
    for name, entry in checkpoints.items():
        MMLogger.get_current_instance().info(f'evaluating model {name!r} ({entry["checkpoint"]})')
        figures[name] = evaluate_modes(cfg, entry['checkpoint'], sets, cache_dir=cache_dir)
        models[name] = dict(role=entry['role'], checkpoint_sha256=file_sha256(entry['checkpoint']),
                            wall_time_s=entry.get('wall_time_s'))
        if membership:
            attacks[name] = membership_inference(cfg, entry['checkpoint'], sets, cache_dir=cache_dir,
                                                 **(membership_kwargs or {}))
    metric = cfg.test_evaluator
    report = build_report(
        figures, models, sets,
        dataset=dict(data_root=metric.data_root, version=metric.version,
                     eval_config=metric.get('eval_config', 'detection_cvpr_2019')),
        config=dict(path=config_path, sha256=file_sha256(config_path) if config_path else None),
        membership_inference=attacks,
        wall_times_s=dict(wall_times_s or {}, evaluation=time.perf_counter() - start))
    return write_report(report, out_dir)
