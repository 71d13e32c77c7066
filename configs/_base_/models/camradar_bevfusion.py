# Camera + radar BEV fusion detector, sized to train from scratch on 2 CPU cores
# (shared/STACK.md: 96x176 images, +-25.6 m, a 48x48 BEV, 16 depth bins).
# Everything size-related is defined once here; derived configs override these variables.
# (Names differ from the dataset bases' ``point_cloud_range``/``class_names``: mmengine refuses
# a key defined by two _base_ files.)
num_classes = 10  # the nuScenes detection classes, in docs/data_format.md's order
num_cams = 6
image_size = (96, 176)  # (H, W) of the network input
bev_range = [-25.6, -25.6, -5.0, 25.6, 25.6, 3.0]  # x, y, z min then max (LIDAR_TOP)
bev_size = 48  # cells a side
voxel_size = [51.2 / bev_size, 51.2 / bev_size, 8.0]
feature_stride = 8  # the FPN level fed to the view transform
radar_feature_names = ['x', 'y', 'z', 'rcs', 'vx_comp', 'vy_comp', 'time_lag']
cam_channels = 64
radar_channels = 32
bev_channels = 64

model = dict(
    type='CamRadarBEVFusion',
    num_cams=num_cams,
    data_preprocessor=dict(
        type='Det3DDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=False),
    img_backbone=dict(
        type='mmdet.ResNet',
        depth=18,
        # quarter width, 3 stages (16, 32, 64 channels; stride 16 at most): the image backbone
        # is most of a CPU training step, and the synthetic images need little capacity
        base_channels=16,
        num_stages=3,
        strides=(1, 2, 2),
        dilations=(1, 1, 1),
        out_indices=(1, 2),
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch'),
    img_neck=dict(type='mmdet.FPN', in_channels=[32, 64], out_channels=cam_channels, num_outs=2),
    view_transform=dict(
        type='LiftSplatViewTransform',
        in_channels=cam_channels,
        out_channels=cam_channels,
        mid_channels=cam_channels,
        image_size=image_size,
        feature_stride=feature_stride,
        dbound=[1.0, 37.0, 2.25],  # 16 bins out to the grid's corners
        point_cloud_range=bev_range,
        voxel_size=voxel_size),
    img_aux_head=dict(
        type='ImageCenterHeatmapHead',
        in_channels=cam_channels,
        num_classes=num_classes,
        feature_stride=feature_stride,
        feat_channels=cam_channels),
    loss_depth_weight=1.0,
    radar_encoder=dict(
        type='RadarPillarEncoder',
        point_cloud_range=bev_range,
        voxel_size=voxel_size,
        feature_names=radar_feature_names,
        used_features=['x', 'y', 'rcs', 'vx_comp', 'vy_comp', 'time_lag'],
        mlp_channels=[radar_channels],
        out_channels=radar_channels),
    fuser=dict(type='ConvFuser', in_channels=[cam_channels, radar_channels], out_channels=bev_channels),
    radar_only_prob=0.25,
    camera_only_prob=0.30,
    bev_backbone=dict(
        type='SECOND',
        in_channels=bev_channels,
        out_channels=[64, 128],
        layer_nums=[2, 2],
        layer_strides=[1, 2]),
    bev_neck=dict(
        type='SECONDFPN', in_channels=[64, 128], out_channels=[64, 64], upsample_strides=[1, 2]),
    bbox_head=dict(
        # mmdet3d's CenterHead with rotated NMS per class, not per task: a truck that the bus
        # heatmap also fires on keeps both hypotheses (fusion val mAP +0.04, docs/results.md).
        type='ClassNMSCenterHead',
        in_channels=128,
        # Every task costs a set of heads: three tasks keep the small classes apart from the
        # vehicles and pedestrians apart from cones.
        tasks=[
            dict(num_class=5, class_names=['car', 'truck', 'construction_vehicle', 'bus', 'trailer']),
            dict(num_class=2, class_names=['barrier', 'traffic_cone']),
            dict(num_class=3, class_names=['motorcycle', 'bicycle', 'pedestrian']),
        ],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2), vel=(2, 2)),
        share_conv_channel=32,
        bbox_coder=dict(
            type='CenterPointBBoxCoder',
            pc_range=bev_range[:2],
            post_center_range=[-30.0, -30.0, -10.0, 30.0, 30.0, 10.0],
            max_num=200,
            score_threshold=0.05,
            out_size_factor=1,
            voxel_size=voxel_size[:2],
            code_size=9),
        separate_head=dict(type='SeparateHead', init_bias=-2.19, final_kernel=1, head_conv=32),
        loss_cls=dict(type='mmdet.GaussianFocalLoss', reduction='mean'),
        loss_bbox=dict(type='mmdet.L1Loss', reduction='mean', loss_weight=0.25),
        norm_bbox=True),
    train_cfg=dict(
        grid_size=[bev_size, bev_size, 1],
        voxel_size=voxel_size,
        out_size_factor=1,
        dense_reg=1,
        gaussian_overlap=0.1,
        max_objs=200,
        min_radius=2,
        code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 0.2, 0.2],
        point_cloud_range=bev_range),
    test_cfg=dict(
        post_center_limit_range=[-30.0, -30.0, -10.0, 30.0, 30.0, 10.0],
        max_per_img=200,
        max_pool_nms=False,
        min_radius=[4, 0.5, 0.5],  # squared metres, circle NMS only
        score_threshold=0.05,
        out_size_factor=1,
        voxel_size=voxel_size[:2],
        pc_range=bev_range[:2],
        nms_type='rotate',
        pre_max_size=1000,
        post_max_size=150,  # per task: 3 x 150 stays within nuScenes' 500 boxes a sample
        nms_thr=0.05))  # per class; 0.5/0.2/0.1/0.05 measured (docs/results.md)
