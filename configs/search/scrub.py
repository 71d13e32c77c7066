# The search of scrub on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/scrub_bevfusion.py'
settings = {
    'steps10_t2_lr3e-4': {'model.objective.max_steps': 10, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'steps10_t2_lr1e-3': {'model.objective.max_steps': 10, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.001},
    'steps10_t4_lr3e-4': {'model.objective.max_steps': 10, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'steps10_t4_lr1e-3': {'model.objective.max_steps': 10, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.001},
    'steps20_t2_lr3e-4': {'model.objective.max_steps': 20, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'steps20_t2_lr1e-3': {'model.objective.max_steps': 20, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.001},
    'steps20_t4_lr3e-4': {'model.objective.max_steps': 20, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'steps20_t4_lr1e-3': {'model.objective.max_steps': 20, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.001},
}
