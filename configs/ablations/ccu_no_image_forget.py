# Ablation of the main job: the image-plane forget term off, the main job's setting before
# session 10's search (docs/method.md; the rest as configs/ccu_bevfusion.py).
_base_ = ['../ccu_bevfusion.py']

work_dir = './work_dirs/ablations/ccu_no_image_forget'
model = dict(objective=dict(w_image_forget=0.0))
