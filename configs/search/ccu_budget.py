# The second search of ccu on the development takedown (session 11; tools/search.py,
# docs/results.md): the budget in passes over the forget set (configs/_base_/jobs/takedown.py,
# ForgetPassTrainLoop), the rest as chosen by configs/search/ccu.py. 4.25 passes are the 60
# iterations the first search ran on the development takedown's 56 flagged samples; more than
# 4.25 would pass the 60-iteration time bound there.
# Its settings are relative to the main config of session 11; session 17 changed that config
# (w_forget_match=1, w_image_forget=0), so a rerun now starts from the new setting.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'as_configured': {},  # forget_passes=4.25
    'passes3': {'train_cfg.forget_passes': 3.0},
    'passes2': {'train_cfg.forget_passes': 2.0},
}
