# Ablation of the main job: the camera-only empty-scene term off
# (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_camera_forget'
model = dict(objective=dict(w_camera_forget=0.0))
