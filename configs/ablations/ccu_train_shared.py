# Ablation of the main job's freezing: the fuser, BEV backbone, neck and head train too (only the
# radar encoder stays frozen), and the radar retention terms (b) are on, since radar-only outputs
# can now change (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_train_shared'
model = dict(
    objective=dict(w_radar_embedding=1.0, w_radar_bev=1.0, w_radar_detection=1.0),
    frozen_modules=('radar_encoder',))
