"""Membership inference against the camera branch: was a scene's camera footage trained on?

Features (one vector per sample, ``camera_membership_features``): the detector's own losses on
the sample with the radar switched off (camera-only mode, eval mode: no modality dropout),
grouped by loss name across tasks, as ``log(loss + 1e-6)``. For ``CamRadarBEVFusion`` these
are the camera-only detection losses (``loss_heatmap``, ``loss_bbox``: how well the camera
alone finds and fits the ground-truth objects), the depth cross-entropy (``loss_depth``) and
the image-plane centre heatmap loss (``loss_img_heatmap``). A model fits its training samples
better than unseen ones, most of all where it memorised them. The samples are read through the
config's ``membership_pipeline`` (:func:`membership_pipeline`), which the dataset config declares
next to its train pipeline.

Attack (``membership_attack``): class-balanced L2-regularised logistic regression on
standardised features, trained on members (retain samples) against non-members (validation
samples). Its AUC is measured out of fold, with folds made of whole scenes (samples of one scene
are near-duplicates, so a sample-level split would leak). The attack fitted on all of them then
judges the forget samples: ``forget_member_rate`` is the share with member probability above
1/2 (the classes weigh equally, so 1/2 is the balanced decision). After good visual unlearning
the forget samples look like validation samples: their rate falls to ``val_member_rate``.

In a multi-process run the features are computed with the samples sharded over the ranks and
gathered on every rank (:func:`collect_membership_features`); the attack itself, a small
deterministic regression, then runs on every rank on the same features.

scikit-learn is not in the stack: the regression (LBFGS in torch), the folds and the AUC
(Mann-Whitney U with average ranks for ties) are written here.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Tuple

import numpy as np
import torch
from mmengine.config import Config, ConfigDict
from mmengine.logging import MMLogger
from mmengine.utils import ProgressBar
from torch import Tensor

from ccu_av.models.interface import camera_losses
from ccu_av.models.weights import build_detector
from ccu_av.utils import file_sha256
from ccu_av.utils.dist import rank_and_world, run_on_rank_zero, run_sharded

from .modal_eval import build_token_loaders, check_sets, evaluation_key, union_tokens
from .prediction_cache import PredictionCache

LOSS_EPS = 1e-6
CACHE_MODE = 'camera_membership'  # the prediction cache's mode name for these features
MEMBERSHIP_SETS = ('forget', 'retain', 'val')  # the sets the attack reads


def roc_auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """Area under the ROC curve of ``scores`` for ``labels`` (1 = positive): the probability
    that a random positive outscores a random negative, ties counting one half."""
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(bool)
    if scores.shape != labels.shape or scores.ndim != 1:
        raise ValueError(f'scores {scores.shape} and labels {labels.shape} must be equal-length vectors')
    n_pos, n_neg = int(labels.sum()), int((~labels).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f'AUC needs positives and negatives, got {n_pos} and {n_neg}')
    if not np.all(np.isfinite(scores)):
        raise ValueError('AUC of non-finite scores')
    # average ranks (1-based) with ties sharing the mean of their ranks
    order = np.argsort(scores, kind='mergesort')
    sorted_scores = scores[order]
    ranks = np.empty(len(scores))
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_scores)) + 1]
    ends = np.r_[starts[1:], len(scores)]
    for start, end in zip(starts, ends):
        ranks[order[start:end]] = (start + end + 1) / 2
    u = ranks[labels].sum() - n_pos * (n_pos + 1) / 2
    return float(u / (n_pos * n_neg))


class LogisticAttack:
    """Class-balanced L2-regularised logistic regression on standardised features.

    Args:
        l2: weight of the squared norm of the coefficients (not the intercept).
        max_iter: LBFGS iterations.
    """

    def __init__(self, l2: float = 1e-2, max_iter: int = 200):
        self.l2 = l2
        self.max_iter = max_iter

    def fit(self, x: np.ndarray, y: np.ndarray) -> 'LogisticAttack':
        x, y = torch.as_tensor(x, dtype=torch.float64), torch.as_tensor(y, dtype=torch.float64)
        self.mean = x.mean(0)
        self.std = x.std(0, unbiased=False).clamp_min(1e-12)
        z = (x - self.mean) / self.std  # (S, F)
        n_pos = y.sum()
        # each class weighs half of the total
        weights = torch.where(y > 0, len(y) / (2 * n_pos), len(y) / (2 * (len(y) - n_pos)))
        self.w = torch.zeros(x.shape[1], dtype=torch.float64, requires_grad=True)
        self.b = torch.zeros((), dtype=torch.float64, requires_grad=True)
        optimizer = torch.optim.LBFGS([self.w, self.b], max_iter=self.max_iter,
                                      line_search_fn='strong_wolfe')

        def closure() -> Tensor:
            optimizer.zero_grad()
            logits = z @ self.w + self.b
            loss = (weights * torch.nn.functional.binary_cross_entropy_with_logits(
                logits, y, reduction='none')).mean() + self.l2 * (self.w ** 2).sum()
            loss.backward()
            return loss

        with torch.enable_grad():
            optimizer.step(closure)
        return self

    def predict_proba(self, x: np.ndarray) -> np.ndarray:
        """Member probability of each row."""
        z = (torch.as_tensor(x, dtype=torch.float64) - self.mean) / self.std
        with torch.no_grad():
            return torch.sigmoid(z @ self.w + self.b).numpy()


def group_folds(groups: Sequence[str], labels: np.ndarray, folds: int, seed: int = 0) -> np.ndarray:
    """Fold index of each sample: whole groups (scenes) go to one fold, members' and
    non-members' groups dealt round-robin in a seeded random order."""
    rng = np.random.default_rng(seed)
    fold_of_group = {}
    for label in (1, 0):
        names = sorted({g for g, l in zip(groups, labels) if l == label})
        for i, name in enumerate(rng.permutation(names)):
            if name in fold_of_group:
                raise ValueError(f'scene {name!r} holds both member and non-member samples')
            fold_of_group[name] = i % folds
    return np.array([fold_of_group[g] for g in groups])


def _check_features(name: str, features: np.ndarray, num_features: Optional[int] = None) -> np.ndarray:
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2 or len(features) == 0:
        raise ValueError(f'membership features of {name}: expected a non-empty (samples, features) '
                         f'array, got shape {features.shape}')
    if num_features is not None and features.shape[1] != num_features:
        raise ValueError(f'membership features of {name}: {features.shape[1]} features, the '
                         f'other sets have {num_features}')
    bad = np.flatnonzero(~np.all(np.isfinite(features), axis=1))
    if len(bad):
        raise ValueError(f'membership features of {name}: {len(bad)} samples have NaN or infinite '
                         f'features, e.g. row {bad[0]}: {features[bad[0]].tolist()}')
    return features


def membership_attack(members: np.ndarray, nonmembers: np.ndarray, forget: np.ndarray,
                      member_groups: Optional[Sequence[str]] = None,
                      nonmember_groups: Optional[Sequence[str]] = None, folds: int = 5,
                      l2: float = 1e-2, seed: int = 0,
                      comparison: Optional[np.ndarray] = None) -> Dict[str, float]:
    """Train the attack on members vs non-members, measure it out of fold, apply it to forget.

    Args:
        members, nonmembers, forget: (S, F) feature arrays (retain, validation, forget samples).
        member_groups, nonmember_groups: the scene of each row (default: every row its own
            scene); folds hold whole scenes.
        folds: cross-validation folds (at most the number of scenes of either class).
        l2: the regression's L2 weight.
        seed: order in which scenes are dealt to folds.
        comparison: (N,) bool over the non-members: the validation samples comparable to the
            forget set (those of its locations), for ``forget_vs_val_same_auc``.

    Returns:
        ``auc`` (out of fold, members vs non-members), ``forget_member_rate``,
        ``retain_member_rate`` and ``val_member_rate`` (out of fold), ``forget_vs_val_auc``
        (attack scores of forget vs out-of-fold validation samples: 0.5 = indistinguishable),
        the sample counts and ``folds``; with ``comparison``, ``forget_vs_val_same_auc`` (forget
        vs the out-of-fold comparable validation samples) and ``num_val_same``.
    """
    members = _check_features('the members (retain)', members)
    nonmembers = _check_features('the non-members (val)', nonmembers, members.shape[1])
    forget = _check_features('the forget set', forget, members.shape[1])
    member_groups = (list(member_groups) if member_groups is not None
                     else [f'm{i}' for i in range(len(members))])
    nonmember_groups = (list(nonmember_groups) if nonmember_groups is not None
                        else [f'n{i}' for i in range(len(nonmembers))])
    if len(member_groups) != len(members) or len(nonmember_groups) != len(nonmembers):
        raise ValueError('membership_attack: one scene per feature row is needed')
    num_groups = min(len(set(member_groups)), len(set(nonmember_groups)))
    if folds < 2 or num_groups < folds:
        raise ValueError(f'membership_attack: {folds} folds need at least {max(folds, 2)} scenes of '
                         f'members and of non-members, got {len(set(member_groups))} and '
                         f'{len(set(nonmember_groups))}')
    x = np.concatenate([members, nonmembers])
    y = np.r_[np.ones(len(members)), np.zeros(len(nonmembers))]
    fold = group_folds(member_groups + nonmember_groups, y, folds, seed)
    held_out = np.empty(len(y))
    for k in range(folds):
        test = fold == k
        held_out[test] = LogisticAttack(l2).fit(x[~test], y[~test]).predict_proba(x[test])
    forget_scores = LogisticAttack(l2).fit(x, y).predict_proba(forget)
    val_scores = held_out[len(members):]
    extra = {}
    if comparison is not None:
        comparison = np.asarray(comparison, dtype=bool)
        if comparison.shape != (len(nonmembers),) or not comparison.any():
            raise ValueError(f'membership_attack: comparison must be a non-empty (N,) mask over the '
                             f'{len(nonmembers)} non-members, got shape {comparison.shape}')
        same = val_scores[comparison]
        extra = dict(forget_vs_val_same_auc=roc_auc(np.r_[forget_scores, same],
                                                    np.r_[np.ones(len(forget)), np.zeros(len(same))]),
                     num_val_same=int(comparison.sum()))
    return dict(
        auc=roc_auc(held_out, y),
        forget_member_rate=float((forget_scores > 0.5).mean()),
        retain_member_rate=float((held_out[:len(members)] > 0.5).mean()),
        val_member_rate=float((val_scores > 0.5).mean()),
        forget_vs_val_auc=roc_auc(np.r_[forget_scores, val_scores],
                                  np.r_[np.ones(len(forget)), np.zeros(len(val_scores))]),
        num_members=len(members), num_nonmembers=len(nonmembers), num_forget=len(forget),
        folds=folds, **extra)


@torch.no_grad()
def camera_membership_features(model: torch.nn.Module, batch_inputs: dict,
                               batch_data_samples: list) -> Dict[str, float]:
    """The losses of one sample in camera-only mode (eval mode), summed over tasks by loss name
    (``interface.camera_losses``), as log(loss + 1e-6)."""
    if len(batch_data_samples) != 1:
        raise ValueError(f'camera_membership_features takes one sample, got {len(batch_data_samples)}')
    losses = camera_losses(model, batch_inputs, batch_data_samples)
    return {name: math.log(float(value) + LOSS_EPS) for name, value in losses.items()}


def membership_pipeline(cfg: Config) -> List[dict]:
    """The pipeline the attack reads training samples through: the config's ``membership_pipeline``.

    The dataset config declares it next to ``train_pipeline``: the training pipeline's loading,
    annotation and depth-target steps without random augmentation (the attack scores each sample
    as it is), deterministic resizing kept (the attack sees the images the detector was trained on).

    Raises:
        ValueError: the config has no ``membership_pipeline``, or it is not a list of transform dicts.
    """
    source = f'config {cfg.filename}' if cfg.filename else 'the config'
    if 'membership_pipeline' not in cfg:
        raise ValueError(f'{source} has no membership_pipeline: declare it next to train_pipeline as '
                         f'the train pipeline without its random augmentation steps')
    pipeline = cfg.membership_pipeline
    if not isinstance(pipeline, (list, tuple)) or not all(isinstance(step, dict) and 'type' in step
                                                          for step in pipeline):
        raise ValueError(f'membership_pipeline of {source}: expected a list of transform dicts with a '
                         f'type, got {pipeline!r}')
    return [ConfigDict(step).to_dict() for step in pipeline]


def _compute_membership_features(cfg: Config, model: torch.nn.Module, tokens: Sequence[str],
                                 cache: bool = False) -> Dict[str, List[dict]]:
    """Per-sample feature records; ``cache``: they are about to be cached, so a NaN or infinite
    feature (which JSON cannot hold) is refused here, naming the sample."""
    # the training dataset's settings, less the camera erasures of a training run (a fleet run
    # erases earlier takedowns' cameras for training; the attack reads the footage as it is)
    loaders = build_token_loaders(cfg, tokens, loader_key='train_dataloader', batch_size=1,
                                  dataset_overrides=dict(test_mode=False, filter_empty_gt=False,
                                                         camera_erased_tokens=None,
                                                         pipeline=membership_pipeline(cfg)))
    records = {}
    progress = ProgressBar(len(tokens))
    for loader in loaders:
        for data in loader:
            data = model.data_preprocessor(data, False)
            sample = data['data_samples'][0]
            features = camera_membership_features(model, data['inputs'], data['data_samples'])
            bad = {name: value for name, value in features.items() if not math.isfinite(value)}
            if bad and cache:
                raise ValueError(f'membership features of sample {sample.token}: NaN or infinite '
                                 f'losses {bad}; nothing was cached')
            records[sample.token] = [dict(scene_token=sample.metainfo.get('scene_token', sample.token),
                                          features=features)]
            progress.update()
    return records


def _distributed_membership_features(cfg: Config, model: torch.nn.Module, tokens: List[str],
                                     cache_dir: Optional[str], pipeline: List[dict],
                                     checkpoint: str) -> Dict[str, List[dict]]:
    """:func:`collect_membership_features`' records in a multi-process run: rank 0 reads the
    cache; what is missing is computed with the samples sharded over the ranks, gathered on
    every rank (each sample exactly once) and cached by rank 0."""
    cache = PredictionCache(cache_dir) if cache_dir else None
    key = evaluation_key(file_sha256(checkpoint), cfg, pipeline) if cache else None
    records = run_on_rank_zero(lambda: cache.get(key, CACHE_MODE, tokens) if cache else None)
    if records is None:
        records = run_sharded(tokens, lambda part: _compute_membership_features(cfg, model, part,
                                                                                cache=cache is not None))
        if cache:
            run_on_rank_zero(cache.put, key, CACHE_MODE, records)
    return records


def collect_membership_features(cfg: Config, checkpoint: str, tokens: Sequence[str],
                                cache_dir: Optional[str] = None
                                ) -> Tuple[List[str], Dict[str, Tuple[str, np.ndarray]]]:
    """Camera membership features of every sample, read once through the config's
    ``membership_pipeline`` (:func:`membership_pipeline`: annotations and depth targets, no random
    augmentation) with the train dataloader's dataset settings, its empty-sample filter off.

    Args:
        cache_dir: root of the prediction cache: features of a checkpoint already computed for
            these samples are read from it (mode ``camera_membership``); None: always compute.

    In a multi-process run every rank calls this with the same arguments: the samples are
    sharded over the ranks, rank 0 alone reads and writes the cache, and every rank returns
    the same features (:func:`_distributed_membership_features`).

    Returns:
        ``(feature names, {token: (scene token, (F,) features)})``.
    """
    pipeline = membership_pipeline(cfg)  # a config without one fails before the model is built
    model = build_detector(cfg, checkpoint)  # built in any case: a checkpoint that does not fit fails here
    tokens = list(tokens)
    if rank_and_world()[1] > 1:
        records = _distributed_membership_features(cfg, model, tokens, cache_dir, pipeline, checkpoint)
    elif cache_dir:
        key = evaluation_key(file_sha256(checkpoint), cfg, pipeline)
        records = PredictionCache(cache_dir).get_or_compute(
            key, CACHE_MODE, tokens, lambda todo: _compute_membership_features(cfg, model, todo, cache=True))
    else:
        records = _compute_membership_features(cfg, model, tokens)
    by_token, names = {}, None
    for token in tokens:
        (record,) = records[token]
        if names is None:
            names = list(record['features'])
        elif list(record['features']) != names:
            raise ValueError(f'sample {token}: losses {list(record["features"])} differ from the '
                             f'first sample\'s {names}')
        by_token[token] = (record['scene_token'], np.array([record['features'][n] for n in names]))
    return names, by_token


def membership_inference(cfg: Config, checkpoint: str, sets: Mapping[str, Sequence[str]],
                         folds: int = 5, l2: float = 1e-2, seed: int = 0,
                         group_by_scene: bool = True, cache_dir: Optional[str] = None) -> Dict[str, float]:
    """The camera-branch membership attack on one checkpoint.

    Args:
        cfg: the detector's config (``model``; ``membership_pipeline`` and ``train_dataloader``
            for reading the samples with annotations; info files of the train and test dataloaders).
        checkpoint: the checkpoint file, loaded strictly.
        sets: ``forget``, ``retain`` (members) and ``val`` (non-members): sample tokens; and
            optionally ``val_same``, the val samples comparable to the forget set (its
            locations'), for ``forget_vs_val_same_auc``.
        folds, l2, seed: as :func:`membership_attack`.
        group_by_scene: folds hold whole scenes; False makes every sample its own group (only
            for datasets with fewer scenes than folds: neighbouring frames then leak).
        cache_dir: root of the prediction cache for the features (None: always compute).

    Returns:
        :func:`membership_attack`'s figures plus ``features`` (the loss names used).
    """
    missing = [name for name in MEMBERSHIP_SETS if name not in sets]
    if missing:
        raise ValueError(f'membership inference needs the sets forget, retain and val; missing {missing}')
    same = set(sets.get('val_same') or ())
    sets = check_sets({name: sets[name] for name in MEMBERSHIP_SETS})
    names, by_token = collect_membership_features(cfg, checkpoint, union_tokens(sets), cache_dir)

    def rows(name: str) -> Tuple[np.ndarray, List[str]]:
        return (np.stack([by_token[t][1] for t in sets[name]]),
                [by_token[t][0] if group_by_scene else t for t in sets[name]])

    (retain, retain_scenes), (val, val_scenes), (forget, _) = rows('retain'), rows('val'), rows('forget')
    comparison = np.array([t in same for t in sets['val']]) if same else None
    figures = membership_attack(retain, val, forget, retain_scenes, val_scenes, folds, l2, seed, comparison)
    figures['features'] = names
    MMLogger.get_current_instance().info(
        f'membership inference on {checkpoint}: AUC {figures["auc"]:.3f}, forget member rate '
        f'{figures["forget_member_rate"]:.3f} (val {figures["val_member_rate"]:.3f}, retain '
        f'{figures["retain_member_rate"]:.3f})')
    return figures
