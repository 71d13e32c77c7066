# The search of random_labels on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/random_labels_bevfusion.py'
settings = {
    'wrong_class_lr3e-4': {'model.objective.mode': 'wrong_class', 'optim_wrapper.optimizer.lr': 0.0003},
    'wrong_class_lr1e-3': {'model.objective.mode': 'wrong_class', 'optim_wrapper.optimizer.lr': 0.001},
    'wrong_class_lr3e-3': {'model.objective.mode': 'wrong_class', 'optim_wrapper.optimizer.lr': 0.003},
    'empty_lr3e-4': {'model.objective.mode': 'empty', 'optim_wrapper.optimizer.lr': 0.0003},
    'empty_lr1e-3': {'model.objective.mode': 'empty', 'optim_wrapper.optimizer.lr': 0.001},
    'empty_lr3e-3': {'model.objective.mode': 'empty', 'optim_wrapper.optimizer.lr': 0.003},
}
