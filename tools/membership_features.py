"""Which of the membership attack's features tell a takedown's flagged samples from unseen ones.

    python tools/membership_features.py work_dirs/benchmark/private_site/record-ccu.json

For every model of a benchmark record (``tools/benchmark.py``'s ``record-<method>.json``), the
attack's per-sample features (the camera-only losses, ``ccu_av.evaluation.membership``; read
from the prediction cache where the report put them) on the flagged samples, on ``val_same``
(unseen samples of the flagged locations) and on retain: the mean of each ``log(loss)`` and
each feature's AUC of "flagged has the lower loss" against ``val_same`` (0.5: no difference;
above: the flagged samples are fitted better, as training members are).

    python tools/membership_features.py RECORD --scenes scene-0067 scene-0098 scene-0119

also gives, for every model, the attack's forget-vs-``val_same`` AUC of the flagged samples of
those scenes alone and of the other flagged samples alone (the attack as the report fits it, on
retain against validation), and each part's camera-only and fusion mAP, mATE and mASE (the
report's predictions, read from the prediction cache: how many boxes are found and how well they
are placed and sized): a takedown that mixes a private site with ordinary
scenes can miss on each part in opposite directions and still look right as a whole.
"""
import argparse

import numpy as np

# each part's nuScenes figures, camera-only and fusion: how well and where the boxes are found
PART_FIGURES = ('mAP', 'mATE', 'mASE')


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('record', help="a benchmark record, e.g. work_dirs/benchmark/<takedown>/record-ccu.json")
    parser.add_argument('--scenes', nargs='+', metavar='NAME',
                        help='also the attack\'s AUC on the flagged samples of these scenes and on the others')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    from ccu_av.benchmark import takedown_config
    from ccu_av.benchmark.suite import SuiteTakedown
    from ccu_av.datasets.takedown_selection import records_from_info_file
    from ccu_av.evaluation.membership import collect_membership_features, membership_attack, roc_auc
    from ccu_av.evaluation.modal_eval import evaluate_modes
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
        scene_of = {r['token']: r['scene_name'] for r in records_from_info_file(files.train_info)}
        parts = {}
        if args.scenes:
            flagged = {scene_of[t] for t in sets['forget']}
            unknown = sorted(set(args.scenes) - flagged)
            if unknown:
                raise ValueError(f'--scenes {unknown}: not flagged scenes of the report\'s forget set; '
                                 f'it has {sorted(flagged)}')
            parts = {'named scenes': [t for t in sets['forget'] if scene_of[t] in args.scenes],
                     'other flagged': [t for t in sets['forget'] if scene_of[t] not in args.scenes]}
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
        if parts:
            # the attack as the report fits it: the job's membership_kwargs (folds, l2, seed, scenes as groups)
            kwargs = dict(cfg.job.get('membership_kwargs') or {})
            by_scene = kwargs.pop('group_by_scene', True)
            comparison = np.array([t in set(sets['val_same']) for t in sets['val']])
            fit = [np.stack([by_token[t][1] for t in sets[s]]) for s in ('retain', 'val')]
            groups = [[by_token[t][0] if by_scene else t for t in sets[s]] for s in ('retain', 'val')]
            for part, part_tokens in parts.items():
                if part_tokens:
                    figures = membership_attack(fit[0], fit[1], np.stack([by_token[t][1] for t in part_tokens]),
                                                groups[0], groups[1], comparison=comparison, **kwargs)
                    out[name][part] = dict(auc=figures['forget_vs_val_same_auc'], samples=len(part_tokens))
            maps = evaluate_modes(detector_config(cfg), model['checkpoint'], {p: t for p, t in parts.items() if t},
                                  modes=('camera', 'fusion'), cache_dir=steps.prediction_cache_dir(cfg))
            for part in out[name]:
                if part in parts:
                    out[name][part].update({f'{mode}_{k}': maps[mode][part][k] for mode in maps for k in PART_FIGURES})
    features = [f for f in next(iter(out.values())) if f not in ('named scenes', 'other flagged')]
    print('| model | ' + ' | '.join(f'{f}: AUC, mean forget / val_same' for f in features) + ' |')
    print('|---|' + '---|' * len(features))
    for name, by_feature in out.items():
        print(f'| {name} | ' + ' | '.join(f"{by_feature[f]['auc']:.3f}, {by_feature[f]['mean_forget']:.2f} / "
                                          f"{by_feature[f]['mean_val_same']:.2f}" for f in features) + ' |')
    if parts:
        columns = [f'{mode} {k}' for mode in ('camera', 'fusion') for k in PART_FIGURES]
        print('\n| model | ' + ' | '.join(f'{p} ({len(t)} samples): attack AUC vs val_same, ' + ', '.join(columns)
                                      for p, t in parts.items()) + ' |')
        print('|---|' + '---|' * len(parts))
        for name, by_feature in out.items():
            print(f'| {name} | ' + ' | '.join(
                ', '.join([f"{by_feature[p]['auc']:.3f}"] + [f"{by_feature[p][c.replace(' ', '_')]:.3f}" for c in columns])
                if p in by_feature else '-' for p in parts) + ' |')
    return out


if __name__ == '__main__':
    main()
