"""Wall time of the subset evaluation against the official nuScenes DetectionEval on the same split.

Both evaluate the same predictions (noisy copies of the ground truth plus false positives, in the
submission format) on the same split of the same loaded tables; table loading is outside both
timings. Timed, per repeat:
  official  DetectionEval(...) + evaluate(): reads the result file, loads and filters the
            split's ground truth, filters the predictions, computes the metrics;
  cold      a fresh NuScenesSubsetEvaluator: resolve the split, load and filter its ground truth,
            check and filter the predictions, compute the metrics;
  warm      the same evaluator again (ground truth cached, as for the 2nd set or model onward).
The figures are checked to agree (1e-9) and the median times and ratios printed.

    python tools/benchmark_eval.py --data-root data/nuscenes --version v1.0-mini --split mini_val
    python tools/benchmark_eval.py --data-root data/synthetic --version v1.0-synthetic \
        --split synthetic_val
"""
import argparse
import json
import math
import os.path as osp
import statistics
import tempfile
import time
from typing import Dict, List

import numpy as np
from mmengine.logging import MMLogger
from nuscenes import NuScenes
from nuscenes.eval.common.config import config_factory
from nuscenes.eval.detection.constants import DETECTION_NAMES
from nuscenes.eval.detection.evaluate import DetectionEval
from nuscenes.eval.detection.utils import category_to_detection_name
from pyquaternion import Quaternion

from ccu_av.evaluation import NuScenesSubsetEvaluator, flatten_metrics


def noisy_predictions(nusc: NuScenes, tokens: List[str], false_positives: int,
                      seed: int) -> Dict[str, List[dict]]:
    """Submission boxes: each detection-class annotation jittered, plus random false positives."""
    rng = np.random.default_rng(seed)
    predictions = {}
    for token in tokens:
        sample = nusc.get('sample', token)
        boxes = []
        for ann_token in sample['anns']:
            ann = nusc.get('sample_annotation', ann_token)
            name = category_to_detection_name(ann['category_name'])
            if name is not None:
                boxes.append(_box(token, name, np.array(ann['translation']) + rng.normal(0, 0.3, 3),
                                  ann['size'], Quaternion(ann['rotation']).yaw_pitch_roll[0], rng))
        ego = nusc.get('ego_pose', nusc.get('sample_data', sample['data']['LIDAR_TOP'])['ego_pose_token'])
        for _ in range(false_positives):
            xy = np.array(ego['translation'][:2]) + rng.uniform(-50, 50, 2)
            boxes.append(_box(token, DETECTION_NAMES[int(rng.integers(10))], np.array([*xy, 1.0]),
                              [1.8, 4.0, 1.6], rng.uniform(-np.pi, np.pi), rng))
        predictions[token] = boxes
    return predictions


def _box(token: str, name: str, translation: np.ndarray, size, yaw: float,
         rng: np.random.Generator) -> dict:
    return dict(sample_token=token, translation=translation.tolist(), size=list(size),
                rotation=list(Quaternion(axis=[0, 0, 1], angle=yaw).elements),
                velocity=rng.normal(0, 1, 2).tolist(), detection_name=name,
                detection_score=float(rng.uniform(0.01, 1.0)), attribute_name='')


def time_official(nusc: NuScenes, result_path: str, split: str, out_dir: str):
    start = time.perf_counter()
    evaluation = DetectionEval(nusc, config_factory('detection_cvpr_2019'), result_path, split,
                               out_dir, verbose=False)
    metrics, _ = evaluation.evaluate()
    return time.perf_counter() - start, metrics


def time_ours(evaluator: NuScenesSubsetEvaluator, predictions: dict, split: str):
    start = time.perf_counter()
    tokens = evaluator.resolve(split)
    metrics = evaluator.evaluate(predictions, tokens)
    return time.perf_counter() - start, metrics


def check_equal(ours: Dict[str, float], official: Dict[str, float], tol: float = 1e-9) -> None:
    """RuntimeError unless every figure equals the official one (NaN where it is NaN)."""
    for key, value in official.items():
        if math.isnan(value) != math.isnan(ours[key]) or abs(ours[key] - value) > tol:
            raise RuntimeError(f'{key}: {ours[key]} here, {value} in the official evaluation')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--data-root', required=True, help='nuScenes dataroot')
    parser.add_argument('--version', default='v1.0-mini')
    parser.add_argument('--split', default='mini_val',
                        help="predefined split or one of the dataroot's splits.json")
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--false-positives', type=int, default=30,
                        help='random false positives added to every sample')
    parser.add_argument('--out', help='also write the figures to this json file')
    args = parser.parse_args()
    logger = MMLogger.get_instance('benchmark_eval', log_level='INFO')

    nusc = NuScenes(version=args.version, dataroot=args.data_root, verbose=False)
    tokens = NuScenesSubsetEvaluator(nusc).resolve(args.split)
    predictions = noisy_predictions(nusc, tokens, args.false_positives, seed=0)
    n_boxes = sum(len(boxes) for boxes in predictions.values())
    logger.info(f'{args.split}: {len(tokens)} samples, {n_boxes} predicted boxes')
    times = {'official': [], 'cold': [], 'warm': []}
    with tempfile.TemporaryDirectory() as tmp:
        result_path = osp.join(tmp, 'results.json')
        with open(result_path, 'w') as f:
            json.dump({'meta': {}, 'results': predictions}, f)
        for repeat in range(args.repeats):
            t_official, official = time_official(nusc, result_path, args.split, osp.join(tmp, 'out'))
            evaluator = NuScenesSubsetEvaluator(nusc)
            t_cold, cold = time_ours(evaluator, predictions, args.split)
            t_warm, warm = time_ours(evaluator, predictions, args.split)
            for name, value in (('official', t_official), ('cold', t_cold), ('warm', t_warm)):
                times[name].append(value)
            reference = flatten_metrics(official)
            for ours in (cold, warm):
                check_equal(flatten_metrics(ours), reference)
            logger.info(f'repeat {repeat}: official {t_official:.3f} s, cold {t_cold:.3f} s, '
                        f'warm {t_warm:.3f} s')
    median = {name: statistics.median(values) for name, values in times.items()}
    summary = dict(split=args.split, version=args.version, samples=len(tokens), boxes=n_boxes,
                   repeats=args.repeats, median_s=median,
                   ratio_cold=median['cold'] / median['official'],
                   ratio_warm=median['warm'] / median['official'],
                   mAP=reference['mAP'], NDS=reference['NDS'])
    if args.out:
        with open(args.out, 'w') as f:
            json.dump(summary, f, indent=2)
    print(json.dumps(summary, indent=2))


if __name__ == '__main__':
    main()
