# Camera + radar data of the default synthetic nuScenes dataset (tools/make_synthetic_nuscenes.py
# writes it, tools/create_data.py its info files). 6 cameras at native size (no image
# augmentation yet), 5 radars x 6 sweeps, LIDAR_TOP depth targets for the camera branch.
custom_imports = dict(imports=['ccu_av.datasets'], allow_failed_imports=False)

dataset_type = 'CamRadarNuScenesDataset'
data_root = 'data/synthetic_nuscenes/'
class_names = ('car', 'truck', 'construction_vehicle', 'bus', 'trailer', 'barrier', 'motorcycle', 'bicycle',
               'pedestrian', 'traffic_cone')
metainfo = dict(classes=class_names)
input_modality = dict(use_camera=True, use_lidar=False, use_radar=True)
# Objects and radar returns outside the detection range are dropped (x, y, z min then max, metres);
# the synthetic sensors reach 25 m, and _base_/models/camradar_bevfusion.py uses the same range.
point_cloud_range = [-25.6, -25.6, -5.0, 25.6, 25.6, 3.0]
radar_sweeps = 6
camera_image_size = (96, 176)  # (H, W) of the written images; stand-ins for erased footage match it
backend_args = None

train_pipeline = [
    dict(type='LoadCameraImages', num_views=6, erased_image_size=camera_image_size, backend_args=backend_args),
    dict(type='ComposeCameraMatrices'),  # (N, 4, 4) cam2img, lidar2cam, lidar2img for the view transform
    dict(type='LoadRadarSweeps', num_sweeps=radar_sweeps),
    dict(type='LoadLidarDepthTargets', depth_range=(1.0, 37.0)),  # the detector's depth bins (dbound)
    dict(type='LoadAnnotations3D', with_bbox_3d=True, with_label_3d=True, with_attr_label=False),
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='ObjectNameFilter', classes=class_names),
    dict(type='PackCamRadarInputs', keys=['img', 'points', 'gt_bboxes_3d', 'gt_labels_3d']),
]
# The membership attack (ccu_av.evaluation.membership) scores each training sample as the detector
# saw it: the train pipeline without its random augmentation. It has none, so all of it; a config
# that adds augmentation to train_pipeline declares this without those steps.
membership_pipeline = train_pipeline
# Evaluation needs no depth targets: LIDAR_TOP is supervision only.
test_pipeline = [
    dict(type='LoadCameraImages', num_views=6, erased_image_size=camera_image_size, backend_args=backend_args),
    dict(type='ComposeCameraMatrices'),  # (N, 4, 4) cam2img, lidar2cam, lidar2img for the view transform
    dict(type='LoadRadarSweeps', num_sweeps=radar_sweeps),
    dict(type='PointsRangeFilter', point_cloud_range=point_cloud_range),
    dict(type='PackCamRadarInputs', keys=['img', 'points']),
]

train_dataloader = dict(
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='nuscenes_infos_train.pkl',
        pipeline=train_pipeline,
        metainfo=metainfo,
        modality=input_modality,
        use_valid_flag=True,  # keep objects seen by LIDAR_TOP or radar (mmdet3d's nuScenes choice)
        test_mode=False,
        box_type_3d='LiDAR',
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='nuscenes_infos_val.pkl',
        pipeline=test_pipeline,
        metainfo=metainfo,
        modality=input_modality,
        test_mode=True,
        box_type_3d='LiDAR',
        backend_args=backend_args))
test_dataloader = val_dataloader
