# The search of scrub on the development takedown (tools/search.py; docs/results.md, protocol):
# the learning rate and the method's main knob, at most 8 settings, the iteration budget of
# configs/_base_/jobs/takedown.py. max_fraction 1/6 and 1/3 are 10 and 20 of the development
# takedown's 60 iterations.
method = 'configs/unlearn/scrub_bevfusion.py'
settings = {
    'frac1of6_t2_lr3e-4': {'model.objective.max_fraction': 1 / 6, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'frac1of6_t2_lr1e-3': {'model.objective.max_fraction': 1 / 6, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.001},
    'frac1of6_t4_lr3e-4': {'model.objective.max_fraction': 1 / 6, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'frac1of6_t4_lr1e-3': {'model.objective.max_fraction': 1 / 6, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.001},
    'frac1of3_t2_lr3e-4': {'model.objective.max_fraction': 1 / 3, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'frac1of3_t2_lr1e-3': {'model.objective.max_fraction': 1 / 3, 'model.objective.temperature': 2.0, 'optim_wrapper.optimizer.lr': 0.001},
    'frac1of3_t4_lr3e-4': {'model.objective.max_fraction': 1 / 3, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.0003},
    'frac1of3_t4_lr1e-3': {'model.objective.max_fraction': 1 / 3, 'model.objective.temperature': 4.0, 'optim_wrapper.optimizer.lr': 0.001},
}
