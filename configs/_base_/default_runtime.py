# Runtime shared by ccu_av's training configs: mmdet3d's registries, iteration-based logging
# and a fixed seed (same seed on CPU -> same checkpoint). custom_imports is left to the top
# config (mmengine refuses a key that two _base_ files define).
default_scope = 'mmdet3d'

default_hooks = dict(
    timer=dict(type='IterTimerHook'),
    logger=dict(type='LoggerHook', interval=20),
    param_scheduler=dict(type='ParamSchedulerHook'),
    checkpoint=dict(type='CheckpointHook', by_epoch=False, interval=500, max_keep_ckpts=2,
                    save_last=True),
    sampler_seed=dict(type='DistSamplerSeedHook'))

# Checkpoints (the message hub's HistoryBuffers included) load back with weights_only=True
# through ccu_av.utils.checkpoint, which importing ccu_av installs.

env_cfg = dict(
    cudnn_benchmark=False,
    mp_cfg=dict(mp_start_method='fork', opencv_num_threads=0),
    dist_cfg=dict(backend='gloo'))  # tools/train.py switches to nccl on GPUs

log_processor = dict(type='LogProcessor', window_size=20, by_epoch=False)
log_level = 'INFO'
load_from = None
resume = False
randomness = dict(seed=0, deterministic=False, diff_rank_seed=False)
