# CCU's object-match term (model.objective.w_object_match, docs/method.md) on the development
# takedown (tools/search.py; docs/results.md, session 19): the camera's confidence at each forget
# sample's own objects lowered to the original's level on held-out samples of their places, beside
# the loss-level forget match of session 17 or instead of it. Every setting names the weights it is
# about, so that it means the same whatever the main config holds. match1_noimage is the main config
# (session 17's choice, kept by this search), rerun here so that every row comes from the same
# original and retrains.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'match1_noimage': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0, 'model.objective.w_object_match': 0.0},
    'object1': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0, 'model.objective.w_object_match': 1.0},
    'object3': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0, 'model.objective.w_object_match': 3.0},
    'object1_nomatch': {'model.objective.w_forget_match': 0.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0, 'model.objective.w_object_match': 1.0},
}
