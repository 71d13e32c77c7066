# Ablation of the main job's freezing: the fuser, BEV backbone, neck and head train too (only the
# radar encoder stays frozen), and the radar retention terms (b) are on, since radar-only outputs
# can now change (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']
custom_imports = dict(imports=['ccu_av'], allow_failed_imports=False)

work_dir = './work_dirs/ablations/ccu_train_shared'
ccu = dict(w_radar_embedding=1.0, w_radar_bev=1.0, w_radar_detection=1.0)
ccu_frozen_modules = ('radar_encoder',)
custom_hooks = [
    dict(type='CCUHook',
         forget_dataloader=dict(batch_size={{_base_.train_dataloader.batch_size}}, num_workers=1, dataset=None),
         ccu=dict(),
         frozen_modules=ccu_frozen_modules,
         norm_eval=True),
]
