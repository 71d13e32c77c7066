"""nuScenes detection metrics (mAP, NDS, per-class AP, TP errors) on any set of sample tokens.

Everything that decides a figure is the nuscenes-devkit's own code: ground truth comes from
``load_gt_of_sample_tokens``, both box sets go through ``add_center_dist`` and ``filter_eval_boxes``,
and the metrics are computed by ``DetectionEval.evaluate`` (``accumulate``, ``calc_ap``, ``calc_tp``
and the class-specific TP rules) on boxes handed over in memory. What this module adds is the
bookkeeping the devkit lacks for subsets: resolving a set (split name, scene names or sample
tokens) to sample tokens, a ground-truth cache so each sample is loaded and filtered once per
dataset, and strict checks of the predictions.
"""
import math
from typing import Dict, List, Mapping, Optional, Sequence, Union

from mmengine.logging import MMLogger
from nuscenes import NuScenes
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.common.data_classes import EvalBoxes
from nuscenes.eval.common.loaders import (add_center_dist, filter_eval_boxes,
                                          get_samples_of_scenes,
                                          load_gt_of_sample_tokens)
from nuscenes.eval.detection.constants import ATTRIBUTE_NAMES, DETECTION_NAMES, TP_METRICS
from nuscenes.eval.detection.data_classes import (DetectionBox, DetectionConfig,
                                                  DetectionMetrics)
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.utils.splits import get_scenes_of_split, is_predefined_split

# A set of samples: a split name (predefined or in the dataroot's splits.json), or a list of
# scene names, or a list of sample tokens.
SetSpec = Union[str, Sequence[str]]
# nuScenes submission format: sample token -> list of box dicts (translation, size, rotation,
# velocity, detection_name, detection_score, attribute_name, sample_token).
Predictions = Mapping[str, Sequence[dict]]

# Names used by the nuScenes leaderboard (and mmdet3d's NuScenesMetric) for the mean TP errors.
TP_ERROR_NAMES = {'trans_err': 'mATE', 'scale_err': 'mASE', 'orient_err': 'mAOE',
                  'vel_err': 'mAVE', 'attr_err': 'mAAE'}
_BOX_FIELDS = {'translation': 3, 'size': 3, 'rotation': 4, 'velocity': 2}


class _InMemoryDetectionEval(DetectionEval):
    """The devkit's ``DetectionEval`` on boxes that are already loaded, centred and filtered.

    ``DetectionEval.__init__`` reads a result file and a whole split from disk; its ``evaluate()``
    only reads the attributes set here, so the official metric code runs unchanged on any subset.
    """

    def __init__(self, config: DetectionConfig, gt_boxes: EvalBoxes, pred_boxes: EvalBoxes):
        self.cfg = config
        self.gt_boxes = gt_boxes
        self.pred_boxes = pred_boxes
        self.sample_tokens = gt_boxes.sample_tokens
        self.verbose = False


class NuScenesSubsetEvaluator:
    """nuScenes detection metrics on any set of samples of one dataset.

    Ground truth is loaded, centred and filtered once per sample and kept, so evaluating several
    sets (forget, retain, val) or several models costs the ground truth once.

    Args:
        nusc: the dataset's tables.
        config: a ``DetectionConfig`` or the name of a devkit configuration.
    """

    def __init__(self, nusc: NuScenes,
                 config: Union[str, DetectionConfig] = 'detection_cvpr_2019'):
        self.nusc = nusc
        self.config = config_factory(config) if isinstance(config, str) else config
        self._gt: Dict[str, List[DetectionBox]] = {}
        self._scene_names = {scene['name'] for scene in nusc.scene}
        self._sample_tokens = {sample['token'] for sample in nusc.sample}

    def has_sample(self, token: str) -> bool:
        """Whether the dataset holds a sample with this token."""
        return token in self._sample_tokens

    @classmethod
    def from_dataroot(cls, data_root: str, version: str,
                      config: Union[str, DetectionConfig] = 'detection_cvpr_2019'
                      ) -> 'NuScenesSubsetEvaluator':
        """Load the tables of ``data_root/version`` and build an evaluator on them."""
        return cls(NuScenes(version=version, dataroot=data_root, verbose=False), config)

    # ----------------------------------------------------------------------------------------
    # sets
    # ----------------------------------------------------------------------------------------
    def resolve(self, spec: SetSpec, name: str = 'set') -> List[str]:
        """Sample tokens of a set: in the sample table's order for a split or scenes, as given
        for tokens.

        Args:
            spec: a split name (predefined, e.g. ``'val'``, or defined in the dataroot's
                ``splits.json``), or a list of scene names, or a list of sample tokens.
            name: what the set is called, for error messages.
        """
        if isinstance(spec, str):
            # raises ValueError for a name that is neither predefined nor in splits.json
            scene_names = set(get_scenes_of_split(spec, self.nusc))
            unknown = sorted(scene_names - self._scene_names)
            # a predefined split names all of nuScenes' scenes, of which a dataroot holds some;
            # a custom split naming a scene that is not there is a mistake
            if unknown and not is_predefined_split(spec):
                raise ValueError(f'{name}: split {spec!r} of {self.nusc.version}/splits.json '
                                 f'names {len(unknown)} scenes that are not in the dataset, '
                                 f'e.g. {unknown[:3]}')
            tokens = get_samples_of_scenes(scene_names, self.nusc)
        else:
            items = list(spec)
            if items and all(item in self._scene_names for item in items):
                tokens = get_samples_of_scenes(set(items), self.nusc)
            else:
                unknown = [item for item in items if item not in self._sample_tokens]
                if unknown:
                    raise ValueError(
                        f'{name}: {len(unknown)} entries are neither all scene names of '
                        f'{self.nusc.version} nor sample tokens in it, e.g. {unknown[:3]}')
                tokens = _unique(items, name)
        if not tokens:
            hint = (' (predefined splits need their version: mini_* for v1.0-mini, train/val '
                    'for v1.0-trainval)' if isinstance(spec, str) and is_predefined_split(spec)
                    else '')
            raise ValueError(f'{name}: the set {_short(spec)} holds no samples of '
                             f'{self.nusc.dataroot}/{self.nusc.version}{hint}')
        return tokens

    # ----------------------------------------------------------------------------------------
    # ground truth
    # ----------------------------------------------------------------------------------------
    def ground_truth(self, sample_tokens: Sequence[str]) -> EvalBoxes:
        """Centred and filtered ground-truth boxes of the samples, loaded once and then cached."""
        missing = [token for token in dict.fromkeys(sample_tokens) if token not in self._gt]
        if missing:
            unknown = [token for token in missing if token not in self._sample_tokens]
            if unknown:
                raise ValueError(f'{len(unknown)} sample tokens are not in '
                                 f'{self.nusc.version}, e.g. {unknown[:3]}')
            gt = load_gt_of_sample_tokens(self.nusc, missing, DetectionBox, verbose=False)
            gt = self._centre_and_filter(gt)
            self._gt.update(gt.boxes)
        boxes = EvalBoxes()
        for token in sample_tokens:
            boxes.add_boxes(token, self._gt[token])
        return boxes

    def _centre_and_filter(self, boxes: EvalBoxes) -> EvalBoxes:
        """The devkit's ``add_center_dist`` then ``filter_eval_boxes`` (distance, points, bike racks)."""
        boxes = add_center_dist(self.nusc, boxes)
        # filter_eval_boxes cannot tell the box type of a set with no box at all (it raises);
        # such a set has nothing to filter.
        if any(boxes.boxes.values()):
            boxes = filter_eval_boxes(self.nusc, boxes, self.config.class_range, verbose=False)
        return boxes

    # ----------------------------------------------------------------------------------------
    # evaluation
    # ----------------------------------------------------------------------------------------
    def evaluate(self, predictions: Predictions, sample_tokens: Sequence[str]) -> DetectionMetrics:
        """Metrics of predictions on one set of samples.

        Args:
            predictions: one entry per sample of the set (an empty list for a sample without
                detections), no entry outside it; boxes in the nuScenes submission format.
            sample_tokens: the set, e.g. from :meth:`resolve`.

        Returns:
            the devkit's ``DetectionMetrics`` (``mean_ap``, ``nd_score``, ``tp_errors``,
            ``get_label_ap``...); :func:`flatten_metrics` turns it into a flat dict.
        """
        tokens = _unique(sample_tokens, 'sample_tokens')
        if not tokens:
            raise ValueError('cannot evaluate an empty set of samples')
        pred_boxes = self._prediction_boxes(predictions, tokens)
        gt_boxes = self.ground_truth(tokens)
        metrics, _ = _InMemoryDetectionEval(self.config, gt_boxes, pred_boxes).evaluate()
        return metrics

    def evaluate_sets(self, predictions: Predictions,
                      sets: Mapping[str, Optional[SetSpec]]) -> Dict[str, DetectionMetrics]:
        """Metrics on several named sets; a set given as None means every predicted sample.

        The predictions may cover more samples than a set; each set takes its own samples and
        needs a prediction entry for every one of them.
        """
        results = {}
        for name, spec in sets.items():
            tokens = list(predictions) if spec is None else self.resolve(spec, name)
            missing = [token for token in tokens if token not in predictions]
            if missing:
                raise ValueError(f'set {name!r}: no prediction entry for {len(missing)} of its '
                                 f'{len(tokens)} samples, e.g. {missing[:3]}')
            results[name] = self.evaluate({token: predictions[token] for token in tokens}, tokens)
            MMLogger.get_current_instance().info(
                f'nuScenes metrics on {name} ({len(tokens)} samples): '
                f'mAP {results[name].mean_ap:.4f}, NDS {results[name].nd_score:.4f}')
        return results

    def _prediction_boxes(self, predictions: Predictions, tokens: List[str]) -> EvalBoxes:
        """Checked ``DetectionBox`` es of the set, centred and filtered as the devkit does."""
        token_set = set(tokens)
        outside = [token for token in predictions if token not in token_set]
        if outside:
            raise ValueError(f'predictions for {len(outside)} samples outside the evaluated set '
                             f'of {len(tokens)}, e.g. {outside[:3]}')
        missing = [token for token in tokens if token not in predictions]
        if missing:
            raise ValueError(f'no prediction entry for {len(missing)} of the {len(tokens)} '
                             f'samples (give [] for a sample without detections), e.g. {missing[:3]}')
        boxes = EvalBoxes()
        # predictions' own order, as the devkit's load_prediction keeps the result file's order
        # (it breaks score ties in accumulate)
        for token, sample_boxes in predictions.items():
            self._check_sample(token, sample_boxes)
            boxes.add_boxes(token, [DetectionBox.deserialize(box) for box in sample_boxes])
        return self._centre_and_filter(boxes)

    def _check_sample(self, token: str, boxes: Sequence[dict]) -> None:
        """Raise ValueError naming the sample and field for anything the devkit would reject or
        silently mis-score (NaN, non-positive sizes, unknown names, too many boxes)."""
        if len(boxes) > self.config.max_boxes_per_sample:
            raise ValueError(f'sample {token}: {len(boxes)} predicted boxes, the evaluation '
                             f'allows at most {self.config.max_boxes_per_sample}')
        for i, box in enumerate(boxes):
            where = f'sample {token}, box {i}'
            if box.get('sample_token', token) != token:
                raise ValueError(f'{where}: sample_token {box["sample_token"]!r} differs from '
                                 'the sample it is listed under')
            name = box.get('detection_name')
            if name not in DETECTION_NAMES:
                raise ValueError(f'{where}: unknown detection_name {name!r}, '
                                 f'expected one of {DETECTION_NAMES}')
            attribute = box.get('attribute_name')
            if attribute != '' and attribute not in ATTRIBUTE_NAMES:
                raise ValueError(f'{where}: unknown attribute_name {attribute!r}, expected '
                                 f'\'\' or one of {ATTRIBUTE_NAMES}')
            score = box.get('detection_score')
            if not isinstance(score, float) or not math.isfinite(score):
                raise ValueError(f'{where}: detection_score must be a finite Python float, '
                                 f'got {score!r}')
            for field, length in _BOX_FIELDS.items():
                values = box.get(field)
                if values is None or len(values) != length or not all(
                        math.isfinite(v) for v in values):
                    raise ValueError(f'{where}: {field} must be {length} finite numbers, '
                                     f'got {values!r}')
            if min(box['size']) <= 0:
                raise ValueError(f'{where}: size must be positive, got {box["size"]!r}')


def flatten_metrics(metrics: DetectionMetrics) -> Dict[str, float]:
    """``mAP``, ``NDS``, the five mean TP errors (``mATE``...), ``AP_<class>`` (AP averaged
    over the distance thresholds) and ``<class>_<tp error>`` as one flat dict of floats."""
    flat = {'mAP': float(metrics.mean_ap), 'NDS': float(metrics.nd_score)}
    for err_name, value in metrics.tp_errors.items():
        flat[TP_ERROR_NAMES[err_name]] = float(value)
    for class_name, ap in metrics.mean_dist_aps.items():
        flat[f'AP_{class_name}'] = float(ap)
    for class_name in metrics.cfg.class_names:
        for err_name in TP_METRICS:
            flat[f'{class_name}_{err_name}'] = float(metrics.get_label_tp(class_name, err_name))
    return flat


def _unique(tokens: Sequence[str], name: str) -> List[str]:
    tokens = list(tokens)
    if len(set(tokens)) != len(tokens):
        raise ValueError(f'{name}: {len(tokens) - len(set(tokens))} duplicated entries')
    return tokens


def _short(spec: SetSpec) -> str:
    return repr(spec) if isinstance(spec, str) else f'of {len(list(spec))} entries'
