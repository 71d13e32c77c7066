# The camera+radar BEV fusion detector on real nuScenes (v1.0-trainval), sized for GPUs:
# 6 cameras resized to 384x704, ResNet-50 (ImageNet weights when the file below exists),
# +-51.2 m at 0.8 m (a 128x128 BEV), 118 depth bins out to 60 m, 20 epochs.
#
#   python tools/create_data.py --root-path data/nuscenes --version v1.0-trainval --out-dir data/nuscenes
#   torchrun --nproc_per_node 8 tools/train.py configs/pretrain_camradar_bevfusion_nuscenes.py --launcher pytorch
_base_ = [
    './_base_/models/camradar_bevfusion.py',
    './_base_/datasets/camradar_synthetic.py',
    './_base_/schedules/cyclic_20e.py',
    './_base_/default_runtime.py',
]
custom_imports = dict(
    imports=['ccu_av', 'ccu_av.models', 'ccu_av.datasets', 'ccu_av.evaluation'],
    allow_failed_imports=False)

# ------------------------------------------------------------------ sizes that differ from the base
image_size = (384, 704)  # nuScenes' 900x1600 scaled by 0.43 (h) / 0.44 (w)
bev_range = [-51.2, -51.2, -5.0, 51.2, 51.2, 3.0]
bev_size = 128
voxel_size = [0.8, 0.8, 8.0]
cam_channels = 80

data_root = 'data/nuscenes/'
data_version = 'v1.0-trainval'
point_cloud_range = bev_range
post_range = [-61.2, -61.2, -10.0, 61.2, 61.2, 10.0]

model = dict(
    data_preprocessor=dict(bgr_to_rgb=True),  # ImageNet weights expect RGB; images load as BGR
    # torchvision-format ImageNet ResNet-50 weights (mmdet's ResNet has the same parameter
    # names), loaded when the file exists; otherwise the image backbone starts from scratch.
    img_pretrained='checkpoints/resnet50_imagenet.pth',
    img_backbone=dict(depth=50, base_channels=64, num_stages=4, strides=(1, 2, 2, 2),
                      dilations=(1, 1, 1, 1), out_indices=(1, 2, 3)),
    img_neck=dict(in_channels=[512, 1024, 2048], out_channels=256, num_outs=3),
    view_transform=dict(
        in_channels=256, out_channels=cam_channels, mid_channels=256, image_size=image_size,
        dbound=[1.0, 60.0, 0.5], point_cloud_range=bev_range, voxel_size=voxel_size),
    img_aux_head=dict(in_channels=256, feat_channels=128),
    radar_encoder=dict(point_cloud_range=bev_range, voxel_size=voxel_size, mlp_channels=[64],
                       out_channels=64),
    fuser=dict(in_channels=[cam_channels, 64], out_channels=128),
    bev_backbone=dict(in_channels=128, out_channels=[128, 256], layer_nums=[3, 5]),
    bev_neck=dict(in_channels=[128, 256], out_channels=[128, 128]),
    bbox_head=dict(
        in_channels=256, share_conv_channel=64,
        separate_head=dict(head_conv=64, final_kernel=3),
        # on GPUs the cost of more heads does not matter: nuScenes' usual six task groups
        tasks=[
            dict(num_class=1, class_names=['car']),
            dict(num_class=2, class_names=['truck', 'construction_vehicle']),
            dict(num_class=2, class_names=['bus', 'trailer']),
            dict(num_class=1, class_names=['barrier']),
            dict(num_class=2, class_names=['motorcycle', 'bicycle']),
            dict(num_class=2, class_names=['pedestrian', 'traffic_cone']),
        ],
        bbox_coder=dict(pc_range=bev_range[:2], post_center_range=post_range, max_num=500,
                        voxel_size=voxel_size[:2])),
    train_cfg=dict(grid_size=[bev_size, bev_size, 1], voxel_size=voxel_size, max_objs=500,
                   point_cloud_range=bev_range),
    test_cfg=dict(post_center_limit_range=post_range, max_per_img=500, voxel_size=voxel_size[:2],
                  pc_range=bev_range[:2], post_max_size=83, min_radius=[4, 12, 10, 1, 0.85, 0.175]))

# ------------------------------------------------------------------ data: resize the 6 views
resize = dict(type='MultiViewWrapper',
              transforms=[dict(type='Resize3D', scale=(image_size[1], image_size[0]), keep_ratio=False)])
train_pipeline = [
    dict(type='LoadMultiViewImageFromFiles', num_views=6),
    resize,  # before ComposeCameraMatrices, which composes lidar2img from the scaled cam2img
    dict(type='ComposeCameraMatrices'),
    dict(type='LoadRadarSweeps', num_sweeps=6),
    dict(type='LoadLidarDepthTargets', depth_range=(1.0, 60.0)),
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True, with_attr_label=False),
    dict(type='PointsRangeFilter', point_cloud_range=bev_range),
    dict(type='ObjectRangeFilter', point_cloud_range=bev_range),
    dict(type='ObjectNameFilter', classes={{_base_.class_names}}),
    dict(type='PackCamRadarInputs', keys=['img', 'points', 'gt_bboxes_3d', 'gt_labels_3d']),
]
# No random augmentation here either, and the resize is fixed: the membership attack reads the
# samples through all of it, at the image size the detector was trained on.
membership_pipeline = train_pipeline
test_pipeline = [
    dict(type='LoadMultiViewImageFromFiles', num_views=6),
    resize,
    dict(type='ComposeCameraMatrices'),
    dict(type='LoadRadarSweeps', num_sweeps=6),
    dict(type='PointsRangeFilter', point_cloud_range=bev_range),
    dict(type='PackCamRadarInputs', keys=['img', 'points']),
]
train_dataloader = dict(
    batch_size=4, num_workers=4,
    dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=1, num_workers=4,
    dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='NuScenesSubsetMetric', data_root=data_root, version=data_version,
                     subsets=dict(val=None))
test_evaluator = val_evaluator
auto_scale_lr = dict(enable=True, base_batch_size=32)  # lr of cyclic_20e is for 8 GPUs x 4
default_hooks = dict(checkpoint=dict(by_epoch=True, interval=1, max_keep_ckpts=3))
log_processor = dict(by_epoch=True)
work_dir = './work_dirs/pretrain_camradar_bevfusion_nuscenes'
