# The third search of ccu on the development takedown (session 11; tools/search.py,
# docs/results.md): the image-plane head's retain term (w_image_retain), the rest as chosen by
# configs/search/ccu.py and ccu_budget.py. 0 (as configured) is ccu_budget.py's chosen row.
method = 'configs/unlearn/ccu_bevfusion.py'
settings = {
    'as_configured': {},  # w_image_retain=0
    'image_retain1': {'model.objective.w_image_retain': 1.0},
    'image_retain3': {'model.objective.w_image_retain': 3.0},
}
