"""How much of each flagged scene CCU's retain support will unlearn, before unlearning anything.

    python tools/retain_support.py configs/ccu_bevfusion.py --takedown configs/takedowns/private_site.yaml

Runs the pre-pass of the job's CCU objective (``support_quantile``; docs/method.md, "How much
to forget") on the job's original (pretrained once and cached, as the job does) and prints the
mean forget weight of every flagged scene: 0 where the retain set shows the scene's look, 1
where no retain scene does. ``--quantile`` overrides the config's; ``--json`` writes the
per-sample weights.
"""
import argparse
import collections

from ccu_av.utils.cli import CfgOptions, user_errors


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument('config', help='a job config with a CCU objective, e.g. configs/ccu_bevfusion.py')
    parser.add_argument('--takedown', help='a takedown request file (default: the config\'s takedown)')
    parser.add_argument('--quantile', type=float, help='support_quantile (default: the config\'s, else 0.1)')
    parser.add_argument('--json', help='write {token: weight} of every forget sample here')
    parser.add_argument('--cfg-options', nargs='+', action=CfgOptions, help='override settings, key=value pairs')
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    import torch
    from mmdet3d.registry import DATASETS, HOOKS, MODELS
    from mmengine.logging import MMLogger
    from mmengine.registry import init_default_scope

    import ccu_av  # noqa: F401  (registers the modules)
    from ccu_av.jobs import load_job_config, steps
    from ccu_av.unlearning.paired_data import forget_batches, retain_batches
    from ccu_av.unlearning.support import token_key
    from ccu_av.utils import write_json_atomic

    with user_errors('retain_support'):
        cfg = load_job_config(args.config, args.cfg_options)
        if cfg.model.objective.get('type') != 'CCU':
            raise ValueError(f'{args.config} unlearns with {cfg.model.objective.get("type")}; retain '
                             'support is CCU\'s (model.objective.type=CCU)')
    if args.takedown:
        cfg.train_dataloader.dataset.takedown = args.takedown
    quantile = args.quantile if args.quantile is not None else cfg.model.objective.get('support_quantile') or 0.1
    cfg.model.objective.support_quantile = quantile
    cfg.model.objective.w_forget_match = 0.0  # only the support weights are asked for: no held-out levels
    init_default_scope('mmdet3d')
    MMLogger.get_instance('ccu_av', log_level='WARNING')
    files = steps.data(cfg)
    cfg.model.original_checkpoint = steps.original(cfg, files).checkpoint
    model = MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    hook = next((h for h in cfg.get('custom_hooks', []) if h.get('type') == 'UnlearningHook'), {})
    hook = HOOKS.build(dict(type='UnlearningHook', **{k: v for k, v in hook.items() if k != 'type'}))
    dataset = DATASETS.build(cfg.train_dataloader.dataset)
    preprocess = model.student.data_preprocessor
    size = hook.prepass_batch_size
    with torch.no_grad():
        model.objective.prepass(
            model.student, model.teacher, (preprocess(b, False) for b in forget_batches(dataset, size)),
            (preprocess(b, False) for b in retain_batches(dataset, size, hook.prepass_retain_samples)))
    weights = dict(zip(model.objective.forget_keys.tolist(), model.objective.forget_weights.tolist()))
    per_sample, per_scene = {}, collections.defaultdict(list)
    for i in range(dataset.num_forget):
        info = dataset.forget.get_data_info(i)
        w = weights[token_key(info['token'])]
        per_sample[info['token']] = w
        per_scene[info['scene_name']].append(w)
    print(f'retain support of {dataset.num_forget} forget samples (support_quantile {quantile}, '
          f'{hook.prepass_retain_samples or "all"} retain samples): mean forget weight '
          f'{sum(per_sample.values()) / len(per_sample):.3f}')
    print('| scene | samples | mean forget weight |\n|---|---|---|')
    for scene, values in per_scene.items():
        print(f'| {scene} | {len(values)} | {sum(values) / len(values):.2f} |')
    if args.json:
        write_json_atomic(args.json, per_sample)
    return dict(samples=per_sample, scenes={s: sum(v) / len(v) for s, v in per_scene.items()})


if __name__ == '__main__':
    main()
