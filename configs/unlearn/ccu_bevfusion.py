# CCU (ccu_av.unlearning.objectives.CCU, docs/method.md) on a takedown of the camera+radar BEV
# fusion detector: a short fine-tune of the original's camera branch.
_base_ = ['../_base_/jobs/takedown.py']

work_dir = './work_dirs/unlearn/ccu_bevfusion'

# Everything but the camera branch (image backbone, neck, view transform) is frozen: the radar
# encoder saw nothing private, and the fuser, BEV backbone and head are shared by all scenes and
# both modalities (docs/method.md, "Which parameters are updated").
model = dict(
    # The radar retention terms (b) are 0: every module they act on is frozen, so radar-only
    # outputs stay the original's exactly (configs/ablations/ccu_train_shared.py trains those
    # modules and turns (b) on).
    objective=dict(
        type='CCU',
        point_cloud_range={{_base_.bev_range}},
        w_camera_forget=0.25,
        w_retain_features=60.0,
        w_forget_fusion=3.0,
        # the image-plane auxiliary head asked for empty images on the forget samples: off since
        # session 17 (it empties that head on every image, a membership signal on private sites;
        # chosen on the development takedown, tools/search.py configs/search/ccu_match.py,
        # docs/results.md); forget matching below reaches that head's loss instead
        w_image_forget=0.0,
        w_radar_embedding=0.0,
        w_radar_bev=0.0,
        w_radar_detection=0.0,
        # how much of each forget sample to unlearn follows from how little the retain set shows
        # its look (docs/method.md); chosen on the development takedown only (docs/results.md)
        support_quantile=0.5,
        min_forget_weight=0.0,
        # the forget samples' camera-only losses raised to the original's level on held-out
        # samples of their places (docs/method.md); chosen on the development takedown
        # (tools/search.py configs/search/ccu_match.py, docs/results.md, session 17)
        w_forget_match=1.0),
    frozen_modules=('radar_encoder', 'fuser', 'bev_backbone', 'bev_neck', 'bbox_head'),
    norm_eval=True)  # batch norm keeps the original's statistics

# The pre-pass of retain support (model.objective.support_quantile; docs/method.md) reads 240
# retain samples evenly spaced over the retain set, in batches of 4; with
# model.objective.w_forget_match > 0 it also reads up to 80 held-out samples (validation samples
# of the flagged locations) for the camera-only loss levels.
custom_hooks = [dict(type='UnlearningHook', prepass_batch_size=4, prepass_retain_samples=240,
                     prepass_holdout_samples=80)]
