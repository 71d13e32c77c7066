# The search of ccu on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
# Its settings are relative to the main config of session 10; session 17 changed that config
# (w_forget_match=1, w_image_forget=0), so a rerun now starts from the new setting.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'as_configured': {},
    'no_support': {'model.objective.support_quantile': None},
    'q0.1': {'model.objective.support_quantile': 0.1},
    'camera_forget0.1': {'model.objective.w_camera_forget': 0.1},
    'camera_forget0.5': {'model.objective.w_camera_forget': 0.5},
    'image_forget0.25': {'model.objective.w_image_forget': 0.25},
    'image_forget1': {'model.objective.w_image_forget': 1.0},
    'lr3e-4': {'optim_wrapper.optimizer.lr': 0.0003},
}
