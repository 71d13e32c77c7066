# From-scratch pretraining that fits about 15 minutes on 2 CPU cores at batch 4.
# AdamW with a short warm-up and cosine decay; gradients clipped because CenterHead's first
# heatmap losses are large.
# 1,900 x 4 = 7,600 samples at peak lr 3e-3 (docs/results.md: wall time and the schedules tried).
max_iters = 1900
lr = 3e-3

optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=lr, weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2))

param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type='CosineAnnealingLR', by_epoch=False, begin=100, end=max_iters, T_max=max_iters - 100,
         eta_min=lr * 0.01),
]

train_cfg = dict(type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
