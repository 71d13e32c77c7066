"""Ablation of the CCU terms on the toy BEV world, under a real mmengine Runner (a script, not a
test): ``python tests/unlearning/toy_ablation.py [iterations]`` prints a markdown table of
accuracies (share of objects whose class is the heatmap's argmax) per set and modality, for the
original model, the visual retrain (forget cameras never seen) and CCU with terms switched off.
"""
import argparse
import sys
import tempfile
import time
import uuid
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).parent))
from tiny_ccu_model import PCR, TinyCamRadar, ToyBEVDataset, accuracy, pretrain  # noqa: E402
from toy_runner import make_runner  # noqa: E402

ABLATIONS = (('CCU, all terms', {}),
             ('w_unlearn=0', dict(w_unlearn=0)),
             ('w_spread=0', dict(w_spread=0)),
             ('radar terms 0', dict(w_radar_embedding=0, w_radar_bev=0, w_radar_detection=0)),
             ('w_forget_fusion=0', dict(w_forget_fusion=0)),
             ('w_forget_fusion=0.3', dict(w_forget_fusion=0.3)),
             ('w_retain_structure=0, w_separation=0', dict(w_retain_structure=0, w_separation=0)))


def row(name, model, sets, seconds=''):
    accs = [accuracy(model, ds, mode) for ds in sets for mode in ('camera', 'radar', 'fusion')]
    return f'| {name} | ' + ' | '.join(f'{a:.2f}' for a in accs) + f' | {seconds} |'


def unlearn(ckpt, work_dir, forget, retain, iters, weights):
    runner = make_runner(work_dir, dict(forget=forget, retain=retain), iters, original=ckpt,
                         objective=dict(type='CCU', point_cloud_range=PCR, **weights),
                         checkpoint_interval=10**6)
    start = time.time()
    runner.train()
    return runner.model.student, time.time() - start


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('iterations', type=int, nargs='?', default=100)
    args = parser.parse_args()
    torch.set_num_threads(1)
    forget = ToyBEVDataset(locations=(0,), num_samples=6, seed=1)
    retain = ToyBEVDataset(locations=(1, 2), num_samples=12, seed=2)
    torch.manual_seed(0)
    original = TinyCamRadar()
    pretrain(original, [forget, retain])
    torch.manual_seed(0)
    visual_retrain = TinyCamRadar()
    pretrain(visual_retrain, [retain], radar_only=[forget])
    lines = ['| model | forget camera | forget radar | forget fusion | retain camera | retain radar '
             '| retain fusion | unlearning s |', '|' + '---|' * 8,
             row('original', original, (forget, retain)),
             row('visual retrain', visual_retrain, (forget, retain))]
    with tempfile.TemporaryDirectory() as tmp:
        ckpt = Path(tmp) / 'original.pth'
        torch.save(dict(state_dict=original.state_dict(), meta={}), ckpt)
        for name, weights in ABLATIONS:
            model, seconds = unlearn(ckpt, Path(tmp) / uuid.uuid4().hex, forget, retain,
                                     args.iterations, weights)
            lines.append(row(name, model, (forget, retain), f'{seconds:.1f}'))
    print('\n'.join(lines))


if __name__ == '__main__':
    main()
