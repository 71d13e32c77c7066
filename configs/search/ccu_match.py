# CCU's forget-match term (model.objective.w_forget_match, docs/method.md) on the development
# takedown (tools/search.py; docs/results.md, session 17): its weight, with and without the two
# "empty scene" forget terms it could replace, and per sample instead of per batch. as_configured (the term off) is the setting of
# configs/search/ccu.py, whose result is the same run.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'as_configured': {},
    'match1': {'model.objective.w_forget_match': 1.0},
    'match3': {'model.objective.w_forget_match': 3.0},
    'match1_noempty': {'model.objective.w_forget_match': 1.0, 'model.objective.w_camera_forget': 0.0,
                       'model.objective.w_image_forget': 0.0},
    'match3_noempty': {'model.objective.w_forget_match': 3.0, 'model.objective.w_camera_forget': 0.0,
                       'model.objective.w_image_forget': 0.0},
    'match1_noimage': {'model.objective.w_forget_match': 1.0, 'model.objective.w_image_forget': 0.0},
    'match1_noimage_per_sample': {'model.objective.w_forget_match': 1.0, 'model.objective.w_image_forget': 0.0,
                                  'model.objective.match_per_sample': True},
}
