# Copyright 2026 The wilor_ros Authors
#
# Licensed under the Apache License, Version 2.0 (the "License");
# you may not use this file except in compliance with the License.
# You may obtain a copy of the License at
#
#     http://www.apache.org/licenses/LICENSE-2.0
#
# Unless required by applicable law or agreed to in writing, software
# distributed under the License is distributed on an "AS IS" BASIS,
# WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
# See the License for the specific language governing permissions and
# limitations under the License.

"""Hand detector parity against ultralytics 8.1.34 outputs (fixture set a, section 7)."""


import cv2
from fixture_paths import DETECT_NPZ, DETECTOR, RECONSTRUCTOR
import numpy as np
import pytest
from reference_nms import box_iou_greedy_keep
import torch

from wilor_ros.detector import HandDetector, load_detector, non_max_suppression
from wilor_ros.letterbox import letterbox_numpy, letterbox_torch, plan_letterbox
from wilor_ros.models.checkpoint_io import CheckpointError, load_checkpoint, module_state_dict
from wilor_ros.models.yolo_pose import YoloPose, YoloPoseConfig
from wilor_ros.models.yolo_pose_checkpoint import (build_yolo_pose, infer_config,
                                                   name_to_ultralytics)

SUFFIXES = ('', '_2')


@pytest.fixture(scope='module')
def ref():
    return np.load(DETECT_NPZ)


@pytest.fixture(scope='module')
def detector(fixture_detector):
    return fixture_detector  # the session's CPU float32 fixture detector (shared: not changed)


def test_config_read_from_checkpoint(detector, ref):
    config = detector.config
    assert config.widths == (16, 32, 64, 128, 256)
    assert config.backbone_depths == (1, 2, 2, 1)
    assert config.num_classes == 2 and config.keypoint_shape == (21, 3)
    assert config.strides == (8.0, 16.0, 32.0)
    assert (config.backbone_shortcut, config.neck_shortcut) == (True, False)
    assert detector.imgsz == int(ref['imgsz'])
    assert detector.class_names == {0: 'left', 1: 'right'} and detector.right_class == 1


@pytest.mark.parametrize('suffix', SUFFIXES)
def test_letterbox_matches_ultralytics_input(detector, ref, suffix):
    image = ref['image' + suffix]
    expected = ref['input' + suffix]
    numpy_input, box = detector.preprocess(image)
    assert box.input_hw == expected.shape[2:]
    torch_input = letterbox_torch(torch.from_numpy(image), box)
    assert np.abs(numpy_input.numpy() - expected).max() < 1e-6
    diff = np.abs(torch_input.numpy() - expected)
    assert diff.max() <= 1.0 / 255 + 1e-6 and diff.mean() < 1e-4


@pytest.mark.parametrize('height,width,imgsz', [
    (768, 1024, 512),    # exact 2x: OpenCV switches INTER_LINEAR to INTER_AREA
    (720, 1280, 640),
    (101, 150, 512),     # upscaling, odd sizes
    (480, 640, (320, 640)),
])
def test_torch_letterbox_matches_opencv(height, width, imgsz):
    image = np.random.default_rng(height).integers(0, 256, (height, width, 3), dtype=np.uint8)
    box = plan_letterbox((height, width), imgsz)
    assert box.input_hw[0] % 32 == 0 and box.input_hw[1] % 32 == 0
    expected = letterbox_numpy(image, box).numpy()
    actual = letterbox_torch(torch.from_numpy(image), box).numpy()
    levels = np.abs(actual - expected) * 255
    assert levels.max() <= 1.0 + 1e-3 and (levels > 0.5).mean() < 5e-3


@pytest.mark.parametrize('suffix', SUFFIXES)
def test_raw_head_output_matches_ultralytics(detector, ref, suffix):
    output, maps = detector.raw(torch.from_numpy(ref['input' + suffix]))
    output = output.numpy()
    expected = ref['raw_output' + suffix]
    assert output.shape == expected.shape
    diff = np.abs(output - expected)[0]
    assert diff[0:4].max() < 0.1
    assert diff[4:6].max() < 1e-4
    assert diff[6::3].max() < 0.1 and diff[7::3].max() < 0.1
    assert diff[8::3].max() < 1e-3
    if suffix == '':
        for level, name in enumerate(('head_p3', 'head_p4', 'head_p5')):
            assert maps[level].shape == ref[name].shape
            assert np.abs(maps[level].numpy() - ref[name]).max() < 5e-3


@pytest.mark.parametrize('suffix', SUFFIXES)
def test_nms_matches_ultralytics(detector, ref, suffix):
    output, _ = detector.raw(torch.from_numpy(ref['input' + suffix]))
    rows = non_max_suppression(output[0], 2, conf=float(ref['conf']), iou=float(ref['iou']),
                               max_det=int(ref['max_det'])).numpy()
    expected = ref['nms_output' + suffix]
    assert rows.shape == expected.shape
    assert np.array_equal(rows[:, 5], expected[:, 5])
    assert np.abs(rows[:, :4] - expected[:, :4]).max() < 0.05
    assert np.abs(rows[:, 4] - expected[:, 4]).max() < 1e-4


@pytest.mark.parametrize('suffix', SUFFIXES)
@pytest.mark.parametrize('as_tensor', [False, True])
def test_detections_match_ultralytics(detector, ref, suffix, as_tensor):
    image = ref['image' + suffix]
    image = torch.from_numpy(image) if as_tensor else image
    result = detector(image, conf=float(ref['conf']), iou=float(ref['iou']))
    count = len(ref['pred_conf' + suffix])
    assert result['boxes'].shape == (count, 4) and result['boxes'].dtype == np.float32
    assert result['scores'].shape == (count,) and result['is_right'].dtype == bool
    assert result['keypoints'].shape == (count, 21, 3)
    assert np.all(np.diff(result['scores']) <= 0)
    np.testing.assert_array_equal(result['is_right'], ref['pred_cls' + suffix] == 1)
    # ultralytics rounds boxes to integers; ours are unrounded.
    assert np.abs(result['boxes'] - ref['pred_xyxy' + suffix]).max() <= 0.6
    assert np.abs(result['scores'] - ref['pred_conf' + suffix]).max() < 1e-3
    visibility = ref['pred_kpts_conf' + suffix]
    visible = visibility >= 0.5
    assert visible.any() and (~visible).any()
    kpt_diff = np.abs(result['keypoints'][..., :2] - ref['pred_kpts_xy' + suffix])
    assert kpt_diff[visible].max() < 0.05
    assert np.abs(result['keypoints'][..., 2] - visibility).max() < 1e-3
    # Hidden keypoints are returned (ultralytics zeroes them): inside the image, not all zero.
    hidden = result['keypoints'][~visible][:, :2]
    height, width = ref['image' + suffix].shape[:2]
    assert np.all(hidden >= 0) and np.all(hidden[:, 0] <= width) and np.all(hidden[:, 1] <= height)
    assert np.abs(hidden).sum() > 0


def test_tensor_api_and_limits(detector, ref):
    result = detector.detect(ref['image'], conf=0.25, iou=0.7, max_det=3)
    assert all(isinstance(v, torch.Tensor) for v in result.values())
    assert result['boxes'].shape == (3, 4) and result['classes'].dtype == torch.int64
    assert np.allclose(result['scores'].numpy(), ref['pred_conf'][:3], atol=1e-3)
    empty = detector(ref['image'], conf=0.99)
    assert empty['boxes'].shape == (0, 4) and empty['keypoints'].shape == (0, 21, 3)
    with pytest.raises(ValueError, match='uint8 HxWx3'):
        detector(ref['image'].astype(np.float32))


def test_greedy_nms_keeps_exactly_the_non_overlapping_best():
    rng = np.random.default_rng(3)
    corner = rng.uniform(0, 100, (200, 2)).astype(np.float32)
    boxes = np.concatenate((corner, corner + rng.uniform(5, 40, (200, 2))), 1).astype(np.float32)
    scores = rng.uniform(0, 1, 200).astype(np.float32)
    keep = box_iou_greedy_keep(boxes, scores, 0.5, 1000)

    def iou(a, b):
        inter = np.prod(np.clip(np.minimum(a[2:], b[2:]) - np.maximum(a[:2], b[:2]), 0, None))
        return inter / (np.prod(a[2:] - a[:2]) + np.prod(b[2:] - b[:2]) - inter)

    assert np.all(np.diff(scores[keep]) <= 0)
    for n, i in enumerate(keep):
        assert all(iou(boxes[i], boxes[j]) <= 0.5 for j in keep[:n])
    for j in set(range(200)) - set(keep.tolist()):
        assert any(iou(boxes[i], boxes[j]) > 0.5 and scores[i] >= scores[j] for i in keep)
    assert np.array_equal(box_iou_greedy_keep(boxes, scores, 0.5, 7), keep[:7])


@pytest.mark.parametrize('dtype,box_median,cls_median', [
    (torch.float16, 1.5, 1e-4),
    (torch.bfloat16, 6.0, 1e-3),
])
def test_reduced_precision_runs(detector, ref, dtype, box_median, cls_median):
    # Random fixture weights amplify rounding, so only typical (median) agreement is checked.
    low = load_detector(DETECTOR, dtype=dtype)
    x = torch.from_numpy(ref['input'])
    expected, _ = detector.raw(x)
    output, _ = low.raw(x)
    assert output.dtype == torch.float32 and torch.isfinite(output).all()
    diff = (output - expected).abs()[0]
    assert diff[:4].median() < box_median and diff[4:6].median() < cls_median
    result = low(ref['image'])
    assert result['boxes'].dtype == np.float32 and len(result['boxes']) > 0


def _randomise_batchnorm(model, seed):
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                n = module.num_features
                module.weight.copy_(torch.rand(n, generator=generator) + 0.5)
                module.bias.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_mean.copy_(torch.randn(n, generator=generator) * 0.1)
                module.running_var.copy_(torch.rand(n, generator=generator) + 0.5)


OTHER_SHAPES = [
    # YOLOv8m-pose, the size of the released WiLoR detector.
    YoloPoseConfig(widths=(48, 96, 192, 384, 576), backbone_depths=(2, 4, 4, 2),
                   neck_widths=(384, 192, 192, 384, 384, 576), neck_depths=(2, 2, 2, 2),
                   cls_hidden=192),
    # Odd sizes everywhere: 3 classes, 5 keypoints, 8 DFL bins.
    YoloPoseConfig(widths=(8, 16, 24, 40, 48), backbone_depths=(2, 1, 3, 1),
                   neck_widths=(40, 24, 24, 40, 40, 48), neck_depths=(2, 1, 1, 3),
                   num_classes=3, keypoint_shape=(5, 3), reg_max=8, box_hidden=32,
                   cls_hidden=24, kpt_hidden=15),
]


@pytest.mark.parametrize('config', OTHER_SHAPES, ids=['yolov8m', 'odd'])
def test_other_dimensions_are_inferred_and_loaded(config):
    torch.manual_seed(0)
    original = YoloPose(config).eval()
    _randomise_batchnorm(original, 1)
    # The state dict as the pickled module would flatten it: ultralytics names, fp16.
    state = {name_to_ultralytics(k): (v.half() if v.is_floating_point() else v)
             for k, v in original.state_dict().items()}
    assert infer_config(state) == config
    loaded = build_yolo_pose(state)
    original.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                              for k, v in original.state_dict().items()})
    x = torch.rand(1, 3, 64, 96)
    with torch.no_grad():
        expected, actual = original(x), loaded(x)
    anchors = 8 * 12 + 4 * 6 + 2 * 3
    assert actual.shape == (1, 4 + config.num_classes + config.num_keypoint_values, anchors)
    assert torch.allclose(actual, expected, rtol=1e-3, atol=1e-3)

    detector = HandDetector(loaded, imgsz=128, class_names={0: 'a', 1: 'b', 2: 'c'})
    image = np.random.default_rng(0).integers(0, 256, (90, 120, 3), dtype=np.uint8)
    result = detector(image, conf=0.0, max_det=5)
    assert result['boxes'].shape == (5, 4)
    assert result['keypoints'].shape == (5, config.keypoint_shape[0], 3)


def test_mismatched_weights_are_reported_by_name():
    state = module_state_dict(load_checkpoint(DETECTOR, kind='detector')['model'])
    state.pop('model.4.m.1.cv2.bn.running_var')
    state['model.22.cv3.1.1.conv.weight'] = torch.zeros(64, 64, 1, 1)
    state['model.22.extra'] = torch.zeros(1)
    with pytest.raises(CheckpointError, match='my.pt') as error:
        build_yolo_pose(state, source='detector file my.pt')
    message = str(error.value)
    assert 'model.4.m.1.cv2.bn.running_var' in message
    assert 'model.22.cv3.1.1.conv.weight' in message and 'model.22.extra' in message
    with pytest.raises(CheckpointError, match='model.22.cv4.0.2.weight'):
        infer_config({k: v for k, v in state.items() if not k.startswith('model.22.cv4')})


def test_truncated_file_fails_clearly(tmp_path):
    truncated = tmp_path / 'detector.pt'
    data = DETECTOR.read_bytes()
    truncated.write_bytes(data[:len(data) // 2])
    with pytest.raises(CheckpointError, match='detector') as error:
        load_detector(truncated)
    assert str(truncated) in str(error.value)


@pytest.mark.parametrize('name', ['text', 'wilor'])
def test_foreign_file_fails_clearly(tmp_path, name):
    if name == 'text':
        path = tmp_path / 'detector.pt'
        path.write_text('not a checkpoint\n')
    else:
        path = RECONSTRUCTOR
    with pytest.raises(CheckpointError, match='detector') as error:
        load_detector(path)
    assert str(path) in str(error.value)
    if name == 'wilor':
        assert 'PoseModel' in str(error.value)


def test_numpy_letterbox_pads_grey_and_swaps_to_rgb():
    image = np.random.default_rng(1).integers(0, 256, (333, 463, 3), dtype=np.uint8)
    box = plan_letterbox(image.shape[:2], 512)
    resized = cv2.resize(image, box.resized_hw[::-1], interpolation=cv2.INTER_LINEAR)
    padded = letterbox_numpy(image, box)[0].numpy()
    inner = padded[:, box.top:box.top + box.resized_hw[0], :] * 255
    assert np.abs(inner - resized[:, :, ::-1].transpose(2, 0, 1)).max() < 1e-3
    assert np.allclose(padded[:, :box.top], 114 / 255)


@pytest.mark.parametrize('height,width', [(2, 4000), (4000, 2), (1, 1), (1, 5000)])
def test_extreme_aspect_ratios_are_letterboxed_and_detected(detector, height, width):
    # A legal image whose short side would scale to 0 px keeps a 1 px row (or column).
    image = np.random.default_rng(width).integers(0, 256, (height, width, 3), dtype=np.uint8)
    box = plan_letterbox((height, width), 640)
    assert min(box.resized_hw) >= 1 and max(box.input_hw) == 640
    assert box.input_hw[0] % 32 == 0 and box.input_hw[1] % 32 == 0
    expected = letterbox_numpy(image, box)
    assert tuple(expected.shape[2:]) == box.input_hw
    actual = letterbox_torch(torch.from_numpy(image), box)
    assert torch.abs(actual - expected).max() * 255 <= 1.0 + 1e-3
    for source in (image, torch.from_numpy(image)):
        found = detector.detect(source, conf=0.01)
        boxes = found['boxes']
        assert torch.isfinite(boxes).all() and torch.isfinite(found['keypoints']).all()
        assert (boxes[:, [0, 2]] <= width).all() and (boxes[:, [1, 3]] <= height).all()
        assert (boxes >= 0).all()
