# Baseline: selective synaptic dampening (ccu_av.unlearning.objectives.SSD): the pre-pass over the
# forget set and the whole training data (retain + forget) dampens the weights far more important
# to the forget set; nothing is trained.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/ssd_bevfusion'

# alpha: the paper's 10 selects no weight here: the takedown is a quarter of the training data,
# and a weight's forget importance exceeds its global one (whose mean includes the forget
# batches) at most 4 times. 3.1 selects what 10 selects at the paper's 1% forget share: the
# weights whose forget importance exceeds ~11 times their retain importance.
model = dict(objective=dict(type='SSD', alpha=3.1))
# No step: the pre-pass (UnlearningHook's before_train) is the whole method, and mmengine's
# IterBasedTrainLoop with 0 iterations runs before_train and after_train only. (One step with
# zero gradients would not do: AdamW's weight decay would still move every weight.)
train_cfg = dict(max_iters=0)
