"""Which of the membership attack's features tell a takedown's flagged samples from unseen ones.

    python tools/membership_features.py work_dirs/benchmark/private_site/record-ccu.json

For every model of a benchmark record (``tools/benchmark.py``'s ``record-<method>.json``), the
attack's per-sample features (the camera-only losses, ``ccu_av.evaluation.membership``; read
from the prediction cache where the report put them) on the flagged samples, on ``val_same``
(unseen samples of the flagged locations) and on retain: the mean of each ``log(loss)`` and
each feature's AUC of "flagged has the lower loss" against ``val_same`` (0.5: no difference;
above: the flagged samples are fitted better, as training members are).
"""
import argparse

import numpy as np


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('record', help="a benchmark record, e.g. work_dirs/benchmark/<takedown>/record-ccu.json")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from ccu_av.benchmark import takedown_config
    from ccu_av.benchmark.suite import SuiteTakedown
    from ccu_av.evaluation.membership import collect_membership_features, roc_auc
    from ccu_av.jobs import steps
    from ccu_av.jobs.config import detector_config
    from ccu_av.utils.cli import user_errors

    with user_errors('membership_features'):
        from ccu_av.utils import read_json
        record = read_json(args.record, 'rerun tools/benchmark.py to write it again')
        cfg = takedown_config(record['method_config'], SuiteTakedown(**record['takedown']))
        files = steps.data(cfg)
        sets = steps.select(cfg, files).eval_sets()
        if 'val_same' not in sets:
            raise ValueError(f'{args.record}: the validation split has no samples of the flagged locations')
    tokens = list(dict.fromkeys(t for s in sets.values() for t in s))
    out = {}
    for name, model in record['models'].items():
        names, by_token = collect_membership_features(detector_config(cfg), model['checkpoint'], tokens,
                                                      steps.prediction_cache_dir(cfg))
        rows = {s: np.stack([by_token[t][1] for t in sets[s]]) for s in ('forget', 'val_same', 'retain')}
        labels = np.r_[np.ones(len(rows['forget'])), np.zeros(len(rows['val_same']))]
        out[name] = {feature: dict(
            auc=roc_auc(-np.r_[rows['forget'][:, i], rows['val_same'][:, i]], labels),
            **{f'mean_{s}': float(rows[s][:, i].mean()) for s in rows}) for i, feature in enumerate(names)}
    features = list(next(iter(out.values())))
    print('| model | ' + ' | '.join(f'{f}: AUC, mean forget / val_same' for f in features) + ' |')
    print('|---|' + '---|' * len(features))
    for name, by_feature in out.items():
        print(f'| {name} | ' + ' | '.join(f"{v['auc']:.3f}, {v['mean_forget']:.2f} / {v['mean_val_same']:.2f}"
                                          for v in by_feature.values()) + ' |')
    return out


if __name__ == '__main__':
    main()
