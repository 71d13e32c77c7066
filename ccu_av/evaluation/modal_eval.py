"""Evaluate one checkpoint in fusion, camera-only and radar-only mode on named sets of samples.

The model runs once per sample and mode over the union of the sets' samples; each set is then
scored from those predictions by :class:`NuScenesSubsetEvaluator`. Predictions are cached per
evaluation key and mode (:class:`PredictionCache`), so a repeated report does not re-run the model.
The evaluation key is the sha256 of the checkpoint's sha256 together with the model and test
pipeline configs, so the same weights under another architecture or pipeline are not served
stale predictions.

In a multi-process run (``torch.distributed`` initialised, several ranks) :func:`predict_checkpoint`
shards the samples over the ranks and gathers them on every rank; rank 0 alone reads and writes
the cache (``docs/distributed.md``).

Model, datasets and dataloaders are built from the config through mmengine/mmdet3d registries;
the detector is driven only through the modal interface (``ccu_av.models.interface``).
"""
import hashlib
import json
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmdet3d.registry import DATASETS
from mmengine.config import Config
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope
from mmengine.runner import Runner
from mmengine.utils import ProgressBar
from torch.utils.data import DataLoader, SequentialSampler, Subset

from ccu_av.models.interface import MODALITIES, use_modality
from ccu_av.models.weights import build_detector
from ccu_av.utils import file_sha256
from ccu_av.utils.dist import rank_and_world, run_on_rank_zero, run_sharded, shard

from .nusc_format import lidar_boxes_to_nusc, lidar_poses_from_nusc
from .nusc_subset_eval import NuScenesSubsetEvaluator, Predictions
from .nusc_subset_metric import get_evaluator
from .prediction_cache import PredictionCache
from .report import Figures, evaluate_models

# mode -> set name -> flat figures: one model's entry of the report's ``figures``
ModeFigures = Dict[str, Dict[str, Dict[str, Optional[float]]]]


def evaluation_key(checkpoint_sha256: str, cfg: Config, pipeline: Optional[list] = None) -> str:
    """sha256 of the checkpoint's sha256, ``cfg.model`` and the pipeline the samples are read
    through (default: the test pipeline): the cache key of a checkpoint's outputs."""
    if pipeline is None:
        pipeline = base_dataset_cfg(cfg.test_dataloader.dataset)['pipeline']
    described = dict(checkpoint=checkpoint_sha256, model=cfg.model.to_dict(), pipeline=pipeline)
    return hashlib.sha256(json.dumps(described, sort_keys=True, default=str).encode()).hexdigest()


def check_sets(sets: Mapping[str, Sequence[str]]) -> Dict[str, List[str]]:
    """The sets as lists; ValueError for no sets, an empty set or a duplicated token in a set."""
    if not sets:
        raise ValueError('no sets to evaluate; expected set name -> sample tokens')
    checked = {}
    for name, tokens in sets.items():
        if isinstance(tokens, str):
            raise ValueError(f'set {name!r}: expected a list of sample tokens, got the string {tokens!r}')
        tokens = list(tokens)
        if not tokens:
            raise ValueError(f'set {name!r} is empty: every evaluated set needs at least one sample')
        if len(set(tokens)) != len(tokens):
            raise ValueError(f'set {name!r}: {len(tokens) - len(set(tokens))} duplicated sample tokens')
        checked[name] = tokens
    return checked


def base_dataset_cfg(dataset_cfg) -> dict:
    """The innermost dataset config: wrappers (e.g. ``CBGSDataset``) resample or repeat
    samples, and evaluation reads every sample exactly once."""
    dataset_cfg = dataset_cfg.to_dict() if hasattr(dataset_cfg, 'to_dict') else dict(dataset_cfg)
    while 'dataset' in dataset_cfg:
        dataset_cfg = dict(dataset_cfg['dataset'])
    return dataset_cfg


def union_tokens(sets: Mapping[str, Sequence[str]]) -> List[str]:
    """The samples of all sets, each once, in first-seen order."""
    return list(dict.fromkeys(token for tokens in sets.values() for token in tokens))


def split_tokens(cfg: Config, loader_key: str = 'test_dataloader') -> List[str]:
    """The sample tokens of the dataset of ``cfg[loader_key]`` (its info file, with the dataset's
    ``sample_tokens``/``scenes`` selection), in the info file's order."""
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    dataset = DATASETS.build(base_dataset_cfg(cfg[loader_key].dataset))
    return [dataset.get_data_info(i)['token'] for i in range(len(dataset))]


def build_token_loaders(cfg: Config, tokens: Sequence[str], loader_key: str = 'test_dataloader',
                        ann_files: Optional[Sequence[str]] = None, batch_size: Optional[int] = None,
                        dataset_overrides: Optional[dict] = None) -> List[DataLoader]:
    """Dataloaders over exactly ``tokens``, one per info file that holds some of them.

    The dataset of ``cfg[loader_key]`` (its pipeline and settings) is built once per info file
    (default: the train and test dataloaders' ``ann_file``), and the requested samples are taken
    from it in the order of ``tokens``; each sample is read once, by the process that iterates
    the loader (no rank sharding here: :func:`predict_checkpoint` shards the tokens).

    Raises:
        ValueError: a token is in none of the info files.
    """
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    template = cfg[loader_key]
    if ann_files is None:
        ann_files = list(dict.fromkeys(base_dataset_cfg(cfg[key].dataset)['ann_file']
                                       for key in ('train_dataloader', 'test_dataloader')))
    remaining = list(dict.fromkeys(tokens))
    loaders = []
    for ann_file in ann_files:
        if not remaining:
            break
        dataset_cfg = dict(base_dataset_cfg(template.dataset), ann_file=ann_file, sample_tokens=None,
                           **(dataset_overrides or {}))
        dataset = DATASETS.build(dataset_cfg)
        index = {dataset.get_data_info(i)['token']: i for i in range(len(dataset))}
        found = [token for token in remaining if token in index]
        remaining = [token for token in remaining if token not in index]
        if found:
            subset = Subset(dataset, [index[token] for token in found])
            loaders.append(Runner.build_dataloader(dict(
                # every sample of the subset, in order, on whichever rank builds it (mmengine's
                # DefaultSampler would keep only this rank's share in a multi-process run)
                dataset=subset, sampler=SequentialSampler(subset),
                batch_size=batch_size or template.get('batch_size', 1),
                num_workers=template.get('num_workers', 0),
                collate_fn=dict(type='pseudo_collate'))))
    if remaining:
        raise ValueError(f'{len(remaining)} sample tokens are in none of the info files '
                         f'{list(ann_files)}, e.g. {remaining[:3]}')
    return loaders


@torch.no_grad()
def predict_modes(model: torch.nn.Module, loaders: Sequence[DataLoader], modes: Sequence[str],
                  evaluator: NuScenesSubsetEvaluator,
                  class_names: Sequence[str]) -> Dict[str, Predictions]:
    """One pass over the loaders; each batch is preprocessed once and run in every mode.

    Returns:
        mode -> sample token -> nuScenes submission boxes.
    """
    predictions = {mode: {} for mode in modes}
    progress = ProgressBar(sum(len(loader.dataset) for loader in loaders))
    for loader in loaders:
        for data in loader:
            data = model.data_preprocessor(data, False)
            inputs, samples = data['inputs'], data['data_samples']
            for mode in modes:
                with use_modality(model, mode):
                    fused = model.extract_modal_feats(inputs, samples)['fused']
                    results = model.head_predict(fused, samples)
                for sample, result in zip(samples, results):
                    predictions[mode][sample.token] = to_nusc(evaluator, sample.token, result, class_names)
            for _ in samples:
                progress.update()
    return predictions


def to_nusc(evaluator: NuScenesSubsetEvaluator, token: str, result, class_names: Sequence[str]) -> List[dict]:
    """One sample's ``InstanceData`` (LiDAR boxes, scores, labels) as nuScenes submission boxes,
    with the sample's poses from the dataset's tables."""
    lidar2ego, ego2global = lidar_poses_from_nusc(evaluator.nusc, token)
    return lidar_boxes_to_nusc(token, result.bboxes_3d.to('cpu'), result.scores_3d.cpu(),
                               result.labels_3d.cpu(), np.asarray(lidar2ego), np.asarray(ego2global),
                               class_names)


def evaluator_of(cfg: Config) -> NuScenesSubsetEvaluator:
    """The process-wide evaluator of the config's ``test_evaluator`` (data_root, version)."""
    metric = cfg.test_evaluator
    return get_evaluator(metric.data_root, metric.version,
                         metric.get('eval_config', 'detection_cvpr_2019'))


def predict_checkpoint(cfg: Config, checkpoint: str, tokens: Sequence[str],
                       modes: Sequence[str] = MODALITIES, cache_dir: Optional[str] = None
                       ) -> Tuple[str, Dict[str, Predictions]]:
    """Predictions of a checkpoint on ``tokens`` in every mode, from the cache where it has them.

    The model is built and the checkpoint loaded strictly in any case (a checkpoint that does
    not fit the config fails here); only modes missing from the cache are run.

    In a multi-process run (a process group of several ranks, ``ccu_av.utils.dist``) every rank
    calls this with the same arguments: rank 0 reads the cache; the missing modes are run with
    ``tokens`` split over the ranks (:func:`~ccu_av.utils.dist.shard`: contiguous, no sample
    twice), each rank predicting its share; the shares are gathered on every rank, checked to
    hold each token exactly once, and rank 0 alone writes the cache. Every rank returns the same
    result. In a single process it is the plain single pass.

    Returns:
        ``(checkpoint sha256, {mode: predictions})``.
    """
    for mode in modes:
        if mode not in MODALITIES:
            raise ValueError(f'mode must be one of {MODALITIES}, got {mode!r}')
    logger = MMLogger.get_current_instance()
    checkpoint_sha = file_sha256(checkpoint)
    model = build_detector(cfg, checkpoint)
    key = evaluation_key(checkpoint_sha, cfg)
    cache = PredictionCache(cache_dir) if cache_dir else None
    predictions = run_on_rank_zero(
        lambda: {mode: cache.get(key, mode, tokens) if cache else None for mode in modes})
    missing = [mode for mode, cached in predictions.items() if cached is None]
    if missing:
        rank, world = rank_and_world()
        shared = f' ({len(shard(tokens, rank, world))} on this rank of {world})' if world > 1 else ''
        logger.info(f'running {checkpoint} in modes {missing} on {len(tokens)} samples{shared}')
        by_token = run_sharded(tokens, lambda part: _predict_tokens(cfg, model, part, missing))
        computed = {mode: {token: by_token[token][mode] for token in by_token} for mode in missing}
        if cache:
            run_on_rank_zero(lambda: [cache.put(key, mode, computed[mode]) for mode in missing])
        for mode in missing:
            predictions[mode] = {token: computed[mode][token] for token in tokens}
    else:
        logger.info(f'predictions of {checkpoint} in modes {list(modes)} read from the cache')
    return checkpoint_sha, predictions


def _predict_tokens(cfg: Config, model: torch.nn.Module, tokens: List[str],
                    modes: Sequence[str]) -> Dict[str, Dict[str, List[dict]]]:
    """``{token: {mode: boxes}}`` of :func:`predict_modes` on ``tokens``, in the loaders' order."""
    evaluator = evaluator_of(cfg)
    loaders = build_token_loaders(cfg, tokens, batch_size=1)
    class_names = loaders[0].dataset.dataset.metainfo['classes']
    computed = predict_modes(model, loaders, modes, evaluator, class_names)
    return {token: {mode: computed[mode][token] for mode in modes} for token in computed[modes[0]]}


def evaluate_modes(cfg: Config, checkpoint: str, sets: Mapping[str, Sequence[str]],
                   modes: Sequence[str] = MODALITIES, cache_dir: Optional[str] = None) -> ModeFigures:
    """nuScenes figures of one checkpoint per mode and set, one inference pass per mode.

    Args:
        cfg: the detector's config (``model``, ``test_dataloader``, ``test_evaluator`` with
            ``data_root``/``version``; ``train_dataloader`` for the training info file).
        checkpoint: the checkpoint file, loaded strictly.
        sets: set name -> sample tokens (e.g. forget, retain, val); none may be empty.
        modes: modality modes to evaluate.
        cache_dir: root of the prediction cache (and of the figures scored from the
            predictions, :class:`~ccu_av.evaluation.prediction_cache.FigureCache`), or None to
            always run the model and score its predictions.

    Returns:
        ``figures[mode][set]`` -> flat figures (mAP, NDS, mATE..., AP_<class>, ...), the shape
        of one model's entry in :func:`ccu_av.evaluation.report.build_report`'s ``figures``.
    """
    sets = check_sets(sets)
    tokens = union_tokens(sets)
    evaluator = evaluator_of(cfg)
    unknown = [token for token in tokens if not evaluator.has_sample(token)]
    if unknown:
        raise ValueError(f'{len(unknown)} sample tokens of the sets are not in '
                         f'{evaluator.nusc.dataroot}/{evaluator.nusc.version}, e.g. {unknown[:3]}')
    _, predictions = predict_checkpoint(cfg, checkpoint, tokens, modes, cache_dir)
    figures: Figures = evaluate_models(evaluator, {'model': predictions}, sets, cache_dir=cache_dir)
    return figures['model']

