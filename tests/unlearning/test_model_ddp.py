"""Under a 2-process gloo run, mmengine's DDP wrapper synchronises the unlearning model's
gradients: after one step on different batches both ranks hold the same gradients, the mean of
the two single-process gradients."""
import os
import socket

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.model import MMDistributedDataParallel
from mmengine.optim import OptimWrapper

from ccu_av.unlearning import PairedDataset, UnlearningModel, paired_collate
from tiny_ccu_model import PCR, TinyCamRadar, ToyBEVDataset

WORLD = 2


def toy_pairs() -> PairedDataset:
    return PairedDataset(ToyBEVDataset(locations=(1, 2), num_samples=8, seed=2),
                         ToyBEVDataset(locations=(0,), num_samples=4, seed=1))


def rank_batch(pairs: PairedDataset, rank: int) -> dict:
    """Rank ``rank``'s batch: 2 retain samples and 2 forget samples of its own."""
    retain = [2 * rank, 2 * rank + 1]
    forget = [pairs.num_retain + 2 * rank, pairs.num_retain + 2 * rank + 1]
    return paired_collate([pairs[i] for i in retain + forget])


def build_model(original: str) -> UnlearningModel:
    model = UnlearningModel(detector=TinyCamRadar(), objective=dict(type='CCU', point_cloud_range=PCR),
                            original_checkpoint=original, frozen_modules=('radar_encoder',))
    model.init_weights()
    return model


def gradients_of_a_step(model, data: dict, wrapped=None) -> dict:
    """The gradients the optimiser sees in one ``train_step`` (captured before it steps)."""
    grads = {}
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.register_step_pre_hook(lambda *_: grads.update(
        {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None}))
    (wrapped or model).train_step(data, OptimWrapper(optimizer))
    return grads


def _rank(rank: int, port: int, original: str, out_dir: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group('gloo', init_method=f'tcp://127.0.0.1:{port}', rank=rank, world_size=WORLD)
    try:
        model = build_model(original)
        wrapped = MMDistributedDataParallel(model, device_ids=None, broadcast_buffers=False)
        grads = gradients_of_a_step(model, rank_batch(toy_pairs(), rank), wrapped)
        torch.save(grads, os.path.join(out_dir, f'rank{rank}.pth'))
        # rank 0 hosts the store: leaving before rank 1 is done with it can leave rank 1 waiting
        dist.barrier()
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(('127.0.0.1', 0))
        return s.getsockname()[1]


def test_gradients_are_identical_on_both_ranks_and_the_mean_of_single_process_ones(tmp_path,
                                                                                 original_ckpt):
    mp.spawn(_rank, args=(free_port(), str(original_ckpt), str(tmp_path)), nprocs=WORLD, join=True)
    ranks = [torch.load(tmp_path / f'rank{r}.pth') for r in range(WORLD)]
    assert ranks[0].keys() == ranks[1].keys()
    assert any(k.startswith('student.camera_encoder') for k in ranks[0])
    assert not any(k.startswith(('teacher.', 'student.radar_encoder')) for k in ranks[0])
    for name in ranks[0]:
        assert torch.equal(ranks[0][name], ranks[1][name]), name

    pairs = toy_pairs()
    single = [gradients_of_a_step(build_model(str(original_ckpt)), rank_batch(pairs, r))
              for r in range(WORLD)]
    assert not torch.allclose(single[0]['student.camera_encoder.weight'],
                              single[1]['student.camera_encoder.weight'])  # the batches differ
    for name, grad in ranks[0].items():
        torch.testing.assert_close(grad, (single[0][name] + single[1][name]) / 2, rtol=1e-5, atol=1e-7)
