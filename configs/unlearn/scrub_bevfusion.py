# Baseline: SCRUB (ccu_av.unlearning.objectives.SCRUB): the student distils the original's dense
# head outputs on retain batches and, for the first max_fraction of the run, moves away from them on
# forget batches; the whole detector trains.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/scrub_bevfusion'

model = dict(objective=dict(type='SCRUB'))  # max_fraction 1/3, temperature 4: the objective's defaults
# chosen on the development takedown by a partial search (tools/search.py configs/search/scrub.py,
# setting frac1of3_t4_lr3e-4; docs/results.md, session 15)
optim_wrapper = dict(optimizer=dict(lr=3e-4))
