# The search of multidelete on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/multidelete_bevfusion.py'
settings = {
    'decouple0.3_lr3e-4': {'model.objective.w_decouple': 0.3, 'optim_wrapper.optimizer.lr': 0.0003},
    'decouple0.3_lr1e-3': {'model.objective.w_decouple': 0.3, 'optim_wrapper.optimizer.lr': 0.001},
    'decouple1_lr3e-4': {'model.objective.w_decouple': 1.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'decouple1_lr1e-3': {'model.objective.w_decouple': 1.0, 'optim_wrapper.optimizer.lr': 0.001},
    'decouple3_lr3e-4': {'model.objective.w_decouple': 3.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'decouple3_lr1e-3': {'model.objective.w_decouple': 3.0, 'optim_wrapper.optimizer.lr': 0.001},
}
