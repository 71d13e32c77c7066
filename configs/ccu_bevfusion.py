# The main job (tools/unlearn.py): a takedown of the default synthetic dataset's flagged location,
# unlearned from the pretrained camera+radar BEV fusion detector with CCU (docs/method.md).
_base_ = ['./pretrain_camradar_bevfusion.py']
custom_imports = dict(imports=['ccu_av'], allow_failed_imports=False)

work_dir = './work_dirs/ccu_bevfusion'

# --- what the job works on (read by tools/unlearn.py, not by mmengine) ------------------------
job = dict(
    # What the takedown names: scenes, logs, locations or time windows (TakedownRequest).
    takedown=dict(locations=['singapore-hollandvillage']),
    # Written as the default synthetic dataset if the data root is absent (None: real data).
    synthetic=dict(seed=0),
    pretrain_config='configs/pretrain_camradar_bevfusion.py',
    # The original detector; None: pretrain once with pretrain_config and cache it.
    pretrained_checkpoint=None,
    cache_dir='./work_dirs/cache',
    # The report's retain set: this many retain scenes of each location (a fixed sample keeps
    # evaluation to about a minute; None: all retain scenes).
    retain_eval_scenes_per_location=2,
    modes=('fusion', 'camera', 'radar'),
)

# --- CCU: a short fine-tune of the original detector -------------------------------------------
max_iters = 150
lr = 2e-4  # a tenth of pretraining's: CCU moves the original model, it does not retrain it
optim_wrapper = dict(optimizer=dict(lr=lr))
param_scheduler = [dict(type='ConstantLR', factor=1.0, by_epoch=False, begin=0, end=max_iters)]
train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters + 1)
# evaluation is the job's own (forget / retain / validation x fusion / camera / radar)
val_cfg = None
val_dataloader = None
val_evaluator = None
default_hooks = dict(checkpoint=dict(interval=50, max_keep_ckpts=1))

# The train dataloader serves the retain set and the hook the forget set; tools/unlearn.py fills in
# their token files (the takedown selection) and gives the forget loader the training dataset's
# settings before building the Runner.
train_dataloader = dict(
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(sample_tokens=None))
# The CCU objective (ccu_av.unlearning.CCU, docs/method.md): a top-level dict so that configs
# inheriting this one (configs/ablations/) change single weights; tools/unlearn.py passes it to
# the CCUHook.
ccu = dict(point_cloud_range={{_base_.bev_range}})
custom_hooks = [
    dict(type='CCUHook',
         forget_dataloader=dict(
             batch_size={{_base_.train_dataloader.batch_size}},
             num_workers=1,
             dataset=None),
         ccu=dict(),  # tools/unlearn.py fills it from ``ccu`` above
         # the radar encoder keeps what it knows by construction (docs/method.md)
         frozen_modules=('radar_encoder',)),
]
