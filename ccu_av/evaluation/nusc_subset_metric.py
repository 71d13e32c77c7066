"""mmengine metric: nuScenes mAP/NDS of a detector on named sets of samples, per modality mode."""
import os.path as osp
from collections import defaultdict
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
from mmdet3d.registry import METRICS
from mmdet3d.structures import LiDARInstance3DBoxes
from mmengine.evaluator import BaseMetric

from .nusc_format import NUSCENES_CLASSES, lidar_boxes_to_nusc, lidar_poses_from_nusc
from .nusc_subset_eval import NuScenesSubsetEvaluator, SetSpec, flatten_metrics

# One evaluator (tables and cached ground truth) per dataset and configuration, shared by every
# metric instance of the process: validation during training, and original vs unlearned models.
_EVALUATORS: Dict[Tuple[str, str, str], NuScenesSubsetEvaluator] = {}
REPORTED = ('mAP', 'NDS', 'mATE', 'mASE', 'mAOE', 'mAVE', 'mAAE')


def get_evaluator(data_root: str, version: str,
                  eval_config: str = 'detection_cvpr_2019') -> NuScenesSubsetEvaluator:
    """The process-wide evaluator of a dataroot, built on first use."""
    key = (osp.abspath(data_root), version, eval_config)
    if key not in _EVALUATORS:
        if not osp.isdir(osp.join(data_root, version)):
            raise FileNotFoundError(f'no nuScenes tables at {osp.join(data_root, version)} '
                                    '(data_root and version of the metric)')
        _EVALUATORS[key] = NuScenesSubsetEvaluator.from_dataroot(data_root, version, eval_config)
    return _EVALUATORS[key]


@METRICS.register_module()
class NuScenesSubsetMetric(BaseMetric):
    """nuScenes detection metrics on each named set of samples, for each modality mode seen.

    Reads from every data sample: ``token`` (metainfo), ``pred_instances_3d`` (``bboxes_3d`` as
    ``LiDARInstance3DBoxes`` with velocity, ``scores_3d``, ``labels_3d``), ``ego2global`` and
    ``lidar2ego`` (metainfo; taken from the nuScenes tables when absent) and ``modality``
    (metainfo, the detector's mode; ``mode`` when absent). Labels index ``dataset_meta['classes']``
    (nuScenes order by default).

    Reports ``{set}/{mode}/{figure}`` for mAP, NDS, the five mean TP errors and ``AP_<class>``,
    e.g. ``nuscenes/forget/camera/mAP``. In a config::

        val_evaluator = dict(type='NuScenesSubsetMetric', data_root='data/nuscenes',
                             version='v1.0-trainval', subsets=dict(val=None))

    Args:
        data_root, version: the nuScenes dataroot and version holding the ground truth.
        subsets: set name -> a split name, a list of scene names or sample tokens, or None for
            every evaluated sample. Each set needs predictions for all its samples.
        mode: the modality mode of predictions whose metainfo does not say it.
        eval_config: the devkit's detection configuration.
    """

    default_prefix = 'nuscenes'

    def __init__(self, data_root: str, version: str,
                 subsets: Optional[Dict[str, Optional[SetSpec]]] = None, mode: str = 'fusion',
                 eval_config: str = 'detection_cvpr_2019', collect_device: str = 'cpu',
                 prefix: Optional[str] = None, collect_dir: Optional[str] = None) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix, collect_dir=collect_dir)
        self.data_root = data_root
        self.version = version
        self.subsets = dict(subsets) if subsets is not None else {'all': None}
        if not self.subsets:
            raise ValueError('NuScenesSubsetMetric: subsets is empty; name at least one set '
                             '(e.g. subsets=dict(val=None))')
        self.mode = mode
        self.eval_config = eval_config

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Keep each sample's token, mode, poses and predictions (on the CPU)."""
        for sample in data_samples:
            if 'token' not in sample:
                raise KeyError("NuScenesSubsetMetric: a data sample has no 'token' in its metainfo; "
                               "pack it (PackCamRadarInputs does; add 'token' to Pack3DDetInputs' "
                               'meta_keys otherwise)')
            pred = sample['pred_instances_3d']
            if not isinstance(pred['bboxes_3d'], LiDARInstance3DBoxes):
                raise TypeError(f"sample {sample['token']}: pred_instances_3d.bboxes_3d must be "
                                f"LiDARInstance3DBoxes, got {type(pred['bboxes_3d']).__name__}")
            self.results.append(dict(
                token=sample['token'], mode=sample.get('modality', self.mode),
                bboxes_3d=pred['bboxes_3d'].to('cpu'), scores_3d=pred['scores_3d'].cpu(),
                labels_3d=pred['labels_3d'].cpu(), lidar2ego=sample.get('lidar2ego'),
                ego2global=sample.get('ego2global')))

    def compute_metrics(self, results: List[dict]) -> Dict[str, float]:
        if not results:
            raise ValueError('NuScenesSubsetMetric: no predictions were collected (empty dataloader?)')
        evaluator = get_evaluator(self.data_root, self.version, self.eval_config)
        class_names = (self.dataset_meta or {}).get('classes', NUSCENES_CLASSES)
        by_mode = defaultdict(dict)
        for result in results:
            token, mode = result['token'], result['mode']
            if token in by_mode[mode]:
                raise ValueError(f'sample {token} was predicted twice in mode {mode!r}')
            by_mode[mode][token] = self._to_nusc(evaluator, result, class_names)
        figures = {}
        for mode, predictions in by_mode.items():
            for set_name, metrics in evaluator.evaluate_sets(predictions, self.subsets).items():
                flat = flatten_metrics(metrics)
                for key, value in flat.items():
                    if key in REPORTED or key.startswith('AP_'):
                        figures[f'{set_name}/{mode}/{key}'] = value
        return figures

    @staticmethod
    def _to_nusc(evaluator: NuScenesSubsetEvaluator, result: dict,
                 class_names: Sequence[str]) -> List[dict]:
        lidar2ego, ego2global = result['lidar2ego'], result['ego2global']
        if lidar2ego is None or ego2global is None:
            if not evaluator.has_sample(result['token']):
                raise ValueError(f"sample {result['token']} is not in "
                                 f'{evaluator.nusc.dataroot}/{evaluator.nusc.version}')
            table_poses = lidar_poses_from_nusc(evaluator.nusc, result['token'])
            lidar2ego = table_poses[0] if lidar2ego is None else lidar2ego
            ego2global = table_poses[1] if ego2global is None else ego2global
        return lidar_boxes_to_nusc(result['token'], result['bboxes_3d'], result['scores_3d'],
                                   result['labels_3d'], np.asarray(lidar2ego),
                                   np.asarray(ego2global), class_names)
