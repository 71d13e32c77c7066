# The search of salun on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py.
method = 'configs/unlearn/salun_bevfusion.py'
settings = {
    'wrong_class_frac0.25_lr3e-4': {'model.objective.mode': 'wrong_class', 'model.objective.saliency_fraction': 0.25, 'optim_wrapper.optimizer.lr': 0.0003},
    'wrong_class_frac0.25_lr1e-3': {'model.objective.mode': 'wrong_class', 'model.objective.saliency_fraction': 0.25, 'optim_wrapper.optimizer.lr': 0.001},
    'wrong_class_frac0.5_lr3e-4': {'model.objective.mode': 'wrong_class', 'model.objective.saliency_fraction': 0.5, 'optim_wrapper.optimizer.lr': 0.0003},
    'wrong_class_frac0.5_lr1e-3': {'model.objective.mode': 'wrong_class', 'model.objective.saliency_fraction': 0.5, 'optim_wrapper.optimizer.lr': 0.001},
    'empty_frac0.25_lr3e-4': {'model.objective.mode': 'empty', 'model.objective.saliency_fraction': 0.25, 'optim_wrapper.optimizer.lr': 0.0003},
    'empty_frac0.25_lr1e-3': {'model.objective.mode': 'empty', 'model.objective.saliency_fraction': 0.25, 'optim_wrapper.optimizer.lr': 0.001},
    'empty_frac0.5_lr3e-4': {'model.objective.mode': 'empty', 'model.objective.saliency_fraction': 0.5, 'optim_wrapper.optimizer.lr': 0.0003},
    'empty_frac0.5_lr1e-3': {'model.objective.mode': 'empty', 'model.objective.saliency_fraction': 0.5, 'optim_wrapper.optimizer.lr': 0.001},
}
