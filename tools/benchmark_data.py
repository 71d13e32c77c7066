"""Measure the data loading pipeline: samples/s, and where the time goes, transform by transform.

    python tools/benchmark_data.py configs/_base_/datasets/camradar_synthetic.py --num-samples 50
"""
import argparse
import copy
import time
from collections import defaultdict
from typing import Dict

from mmengine.config import Config, DictAction
from mmengine.logging import MMLogger
from mmengine.registry import init_default_scope


def benchmark_dataset(dataset, num_samples: int, warmup: int = 2) -> Dict[str, object]:
    """Time ``dataset[i]`` (the whole pipeline) and each transform of its pipeline, in one process.

    Returns dict(samples_per_s, seconds, num_samples, transform_ms (name -> mean ms a sample)).
    """
    if len(dataset) == 0:
        raise ValueError('the dataset is empty: nothing to benchmark')
    indices = [i % len(dataset) for i in range(warmup + num_samples)]
    for i in indices[:warmup]:
        dataset[i]
    start = time.perf_counter()
    for i in indices[warmup:]:
        dataset[i]
    seconds = time.perf_counter() - start

    transform_s = defaultdict(float)
    for i in indices[warmup:]:
        results = copy.deepcopy(dataset.get_data_info(i))
        results.update(box_type_3d=dataset.box_type_3d, box_mode_3d=dataset.box_mode_3d)
        for transform in dataset.pipeline.transforms:
            t0 = time.perf_counter()
            results = transform(results)
            transform_s[type(transform).__name__] += time.perf_counter() - t0
    return dict(samples_per_s=num_samples / seconds, seconds=seconds, num_samples=num_samples,
                transform_ms={name: 1000 * s / num_samples for name, s in transform_s.items()})


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a config with a train_dataloader (or --split val/test)')
    parser.add_argument('--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--num-samples', type=int, default=50)
    parser.add_argument('--cfg-options', nargs='+', action=DictAction, help='override config settings')
    args = parser.parse_args()

    cfg = Config.fromfile(args.config)
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmdet3d'))
    from mmdet3d.registry import DATASETS
    dataset = DATASETS.build(cfg[f'{args.split}_dataloader'].dataset)
    MMLogger.get_current_instance().info(f'benchmarking {len(dataset)} {args.split} samples')
    report = benchmark_dataset(dataset, args.num_samples)
    print(f'{report["num_samples"]} samples in {report["seconds"]:.2f} s: {report["samples_per_s"]:.2f} samples/s '
          f'(one process)')
    for name, ms in report['transform_ms'].items():
        print(f'  {name:32s} {ms:8.1f} ms a sample')


if __name__ == '__main__':
    main()
