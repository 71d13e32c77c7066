# CCU's forget-match term (model.objective.w_forget_match, docs/method.md) on the development
# takedown (tools/search.py; docs/results.md, session 17): its weight, with and without the two
# "empty scene" forget terms it could replace, and per sample instead of per batch. Every setting
# names the three weights it is about, so that it means the same whatever the main config now
# holds (session 17 changed it to match1_noimage). term_off is the main config before session 17,
# whose result is session 15's run of configs/search/ccu.py's as_configured.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'term_off': {'model.objective.w_forget_match': 0.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 1.0},
    'match1': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 1.0},
    'match3': {'model.objective.w_forget_match': 3.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 1.0},
    'match1_noempty': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.0, 'model.objective.w_image_forget': 0.0},
    'match3_noempty': {'model.objective.w_forget_match': 3.0, 'model.objective.w_camera_forget': 0.0, 'model.objective.w_image_forget': 0.0},
    'match1_noimage': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0},
    'match1_noimage_per_sample': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.25, 'model.objective.w_image_forget': 0.0,
                                  'model.objective.match_per_sample': True},
}
