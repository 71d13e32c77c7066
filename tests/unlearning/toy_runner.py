"""An mmengine Runner of an UnlearningModel over the tiny detector and the toy BEV world."""
import uuid
from typing import Optional, Sequence

from mmengine.runner import Runner

from ccu_av.unlearning import PairedDataset, UnlearningModel
from tiny_ccu_model import PCR, TinyCamRadar


def make_runner(work_dir, toy_sets, max_iters: int, original=None, resume: bool = False,
                objective: Optional[dict] = None, detector=None, forget=None,
                frozen_modules: Sequence[str] = ('radar_encoder',), norm_eval: bool = False,
                forget_batch_size: Optional[int] = None, checkpoint_interval: int = 1000,
                optimizer: Optional[dict] = None, custom_hooks: Optional[list] = None,
                train_cfg: Optional[dict] = None, holdout=None, **runner_kwargs) -> Runner:
    """Unlearn ``toy_sets['forget']`` (or ``forget``) from ``original`` (a checkpoint path), the
    retain set ``toy_sets['retain']``, batches of 2 + 2, CCU by default; ``train_cfg`` replaces
    the loop (mmengine's ``IterBasedTrainLoop`` of ``max_iters``); ``holdout``: the paired
    dataset's held-out samples."""
    model = UnlearningModel(
        detector=detector or TinyCamRadar(),
        objective=objective or dict(type='CCU', point_cloud_range=PCR),
        original_checkpoint=None if original is None else str(original),
        frozen_modules=frozen_modules, norm_eval=norm_eval)
    return Runner(
        model=model,
        work_dir=str(work_dir),
        experiment_name=f'unlearn_{uuid.uuid4().hex[:8]}',
        train_dataloader=dict(
            dataset=PairedDataset(toy_sets['retain'], toy_sets['forget'] if forget is None else forget, holdout),
            batch_size=2, num_workers=0,
            sampler=dict(type='InfiniteSampler', shuffle=True),
            batch_sampler=dict(type='PairedBatchSampler', forget_batch_size=forget_batch_size),
            collate_fn=dict(type='paired_collate')),
        train_cfg=train_cfg or dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10_000),
        optim_wrapper=dict(optimizer=optimizer or dict(type='AdamW', lr=0.02, weight_decay=0.0)),
        default_hooks=dict(checkpoint=dict(type='CheckpointHook', by_epoch=False,
                                           interval=checkpoint_interval),
                           logger=dict(type='LoggerHook', interval=1)),
        custom_hooks=[dict(type='UnlearningHook')] if custom_hooks is None else custom_hooks,
        resume=resume,
        randomness=dict(seed=0),
        default_scope='mmdet3d',
        log_level='WARNING',
        **runner_kwargs)
