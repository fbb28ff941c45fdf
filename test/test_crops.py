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

"""
Hand crops against the official ViTDetDataset crops (preprocess.npz) and OpenCV.

crop_hands has two pixel paths: OpenCV for frames on the CPU, batched torch for frames on a
GPU. Both are checked against the fixture and the OpenCV/scipy rule, and against each other;
the torch path is run on the CPU here by calling it directly.
"""

import warnings

import cv2
from fixture_paths import FIXTURES
import numpy as np
from opencv_release import NEW_OPENCV
import pytest
from scipy.ndimage import gaussian_filter
import torch

from wilor_ros.crop_geometry import blur_sigma, crop_geometry, IMAGE_MEAN, IMAGE_STD
from wilor_ros.crops import _affine_inverse, _crops_torch, crop_hands, frame_to_tensor
from wilor_ros.crops_opencv import crops_opencv
from wilor_ros.opencv_warp_torch import fixed_point_column_starts

MEAN = 255 * np.array(IMAGE_MEAN)[:, None, None]
STD = 255 * np.array(IMAGE_STD)[:, None, None]


@pytest.fixture(scope='module')
def ref():
    return np.load(FIXTURES / 'wilor' / 'preprocess.npz')


def grey_levels(img):
    """Undo the normalisation: (B, 3, S, S) RGB in 0-255 grey levels, float64."""
    return np.asarray(img, dtype=np.float64) * STD + MEAN


def official_crop(image, box, right, rescale=2.0):
    """Cut one crop by the official rule (README section 2.1) with OpenCV and scipy, RGB 0-255."""
    center, size = crop_geometry(box[None], rescale)
    (cx, cy), b = center[0], size[0]
    sigma = float(blur_sigma(size)[0])
    img = gaussian_filter(image.astype(np.float64), (sigma, sigma, 0), mode='nearest',
                          truncate=4.0) if sigma > 0 else image
    if not right:
        img = img[:, ::-1]
        cx = image.shape[1] - cx - 1
    src = np.zeros((3, 2), np.float32)
    src[0] = (cx, cy)
    src[1] = np.array([cx, cy], np.float64) + np.array([0, b * 0.5], np.float32)
    src[2] = np.array([cx, cy], np.float64) + np.array([b * 0.5, 0], np.float32)
    dst = np.array([[128, 128], [128, 256], [256, 128]], np.float32)
    warp = cv2.getAffineTransform(src, dst)
    patch = cv2.warpAffine(np.ascontiguousarray(img), warp, (256, 256),
                           flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0)
    return patch[:, :, ::-1].transpose(2, 0, 1).astype(np.float64)


def assert_official_crops(img, ref):
    """Check (6, 3, S, S) crops of the preprocess.npz boxes against the official ones."""
    ours, official = grey_levels(img), grey_levels(ref['img'])
    blurred = ref['blur_sigma'] > 0
    assert blurred.sum() == 1 and (~ref['flip'][[2, 5]]).tolist() == [True, False]
    for n in range(6):
        diff = np.abs(ours[n] - official[n])
        # Required: mean <= 0.5 and max <= 2 grey levels (box 3 blurred; 2 and 5 at a border).
        assert diff.mean() <= 0.5 and diff.max() <= 2, (n, diff.mean(), diff.max())
        if blurred[n]:
            # Float32 blur instead of float64: only rounding noise remains.
            assert diff.max() < 1e-3, (n, diff.max())
        else:
            # The 8-bit path reproduces OpenCV's warp arithmetic (bit-exact here).
            assert (diff > 0.5).mean() <= 1e-4 and diff.max() <= 1, (n, diff.max())


def random_boxes(image, seed, count=8, widths=(20.0, 90.0, 320.0)):
    """Boxes of the given widths (+-20 %), some over the image borders; and random sides."""
    height, width = image.shape[:2]
    rng = np.random.default_rng(seed)
    x1 = rng.uniform(-60, width - 20, count)
    y1 = rng.uniform(-60, height - 20, count)
    w = rng.choice(widths, count) * rng.uniform(0.8, 1.2, count)
    h = w * rng.uniform(0.6, 1.6, count)
    boxes = np.stack([x1, y1, x1 + w, y1 + h], 1).astype(np.float32)
    return boxes, rng.integers(0, 2, count)


def torch_path(image, boxes, right):
    """Crops of the GPU path (batched torch), run on the CPU."""
    center, size = crop_geometry(boxes)
    return _crops_torch(torch.from_numpy(np.ascontiguousarray(image)), center, size,
                        np.asarray(right, dtype=np.float32), 256)


def official_crops_with_this_opencv(ref):
    """
    Return ``ref`` whose crops are the official ones as the installed OpenCV cuts them.

    preprocess.npz holds the official crops made with OpenCV >= 4.11. An older OpenCV (Ubuntu
    22.04's 4.5.4, 24.04's 4.6.0) rounds 8-bit warpAffine in 1/32-pixel fixed point, so the
    official code itself cuts crops up to 5 grey levels away from those (measured with 4.5.4),
    and crop_hands, which calls OpenCV as the official code does, follows the installed OpenCV.
    There the reference is the official crop re-made with it (official_crop), same bounds.
    """
    if NEW_OPENCV:
        return ref
    crops = np.stack([official_crop(ref['image'], box, right)
                      for box, right in zip(ref['boxes'], ref['is_right'])])
    return dict({key: ref[key] for key in ref.files}, img=(crops - MEAN) / STD)


def test_crops_match_official_for_all_boxes(ref):
    out = crop_hands(ref['image'], ref['boxes'], ref['is_right'], rescale_factor=2.0)
    assert out['img'].shape == (6, 3, 256, 256) and out['img'].dtype == torch.float32
    np.testing.assert_array_equal(out['box_center'].numpy(), ref['box_center'])
    np.testing.assert_array_equal(out['box_size'].numpy(), ref['box_size'])
    np.testing.assert_array_equal(out['img_size'].numpy(), ref['img_size'])
    np.testing.assert_array_equal(out['right'].numpy(), ref['right'])
    assert_official_crops(out['img'].numpy(), official_crops_with_this_opencv(ref))


def test_torch_path_matches_official_for_all_boxes(ref):
    img = torch_path(ref['image'], ref['boxes'], ref['is_right'])
    assert img.shape == (6, 3, 256, 256) and img.dtype == torch.float32
    assert_official_crops(img.numpy(), ref)


def test_tensor_input_gives_the_same_crops(ref):
    image = torch.from_numpy(ref['image'].copy())
    from_tensor = crop_hands(image, ref['boxes'][:3], ref['is_right'][:3])
    from_numpy = crop_hands(ref['image'], ref['boxes'][:3], ref['is_right'][:3])
    for key in from_numpy:
        assert torch.equal(from_tensor[key], from_numpy[key]), key
    assert np.array_equal(image.numpy(), ref['image'])


def test_left_hand_crop_is_the_mirrored_right_hand_crop(ref):
    image = ref['image']
    width = image.shape[1]
    boxes = ref['boxes'][[0, 3, 5]]
    mirrored_boxes = boxes.copy()
    mirrored_boxes[:, [0, 2]] = width - 1 - boxes[:, [2, 0]]
    left = crop_hands(image, boxes, [0, 0, 0])['img']
    right = crop_hands(np.ascontiguousarray(image[:, ::-1]), mirrored_boxes, [1, 1, 1])['img']
    # Identical up to float32 rounding of the mirrored centre (one ulp can move a tap).
    diff = np.abs(grey_levels(left.numpy()) - grey_levels(right.numpy()))
    assert diff.max() <= 1 and diff.mean() < 1e-3


@pytest.mark.parametrize('seed', [0, 1])
def test_random_boxes_match_opencv_including_blur_near_borders(ref, seed):
    image = ref['image']
    # Tiny to huge boxes (b > 563.2 blurs), some reaching over the image borders.
    boxes, right = random_boxes(image, seed, 10, (0.5, 3.0, 20.0, 90.0, 320.0, 1500.0))
    sizes = crop_geometry(boxes)[1]
    assert (sizes > 563.2).any() and (sizes < 563.2).any() and (sizes < 10).any()
    ours = grey_levels(crop_hands(image, boxes, right)['img'].numpy())
    for n in range(len(boxes)):
        diff = np.abs(ours[n] - official_crop(image, boxes[n], right[n]))
        if sizes[n] > 563.2:
            # Only the part of the image the crop reads is blurred: same as the whole image.
            assert diff.max() < 1e-3, (n, diff.max())
        elif NEW_OPENCV:
            assert diff.max() <= 1 and (diff > 0.5).mean() <= 1e-4, (n, diff.max())
        else:
            assert diff.mean() <= 0.5, (n, diff.mean())


@pytest.mark.parametrize('seed', [2, 3, 4])
def test_opencv_and_torch_paths_agree(ref, seed):
    image = ref['image']
    boxes, right = random_boxes(image, seed, 12, (0.5, 3.0, 20.0, 90.0, 200.0, 320.0, 1500.0))
    # Boxes entirely outside the image, sharp and blurred: their crops are black.
    boxes[0] = (-900, -700, -820, -600)
    boxes[1] = (3000, 3000, 3400, 3400)
    center, size = crop_geometry(boxes)
    blurred = blur_sigma(size) > 0
    assert blurred.any() and (~blurred).any() and (right == 0).any() and (right == 1).any()
    with_opencv = crops_opencv(image, center, size, right.astype(np.float32), 256)
    with_torch = torch_path(image, boxes, right)
    # Sharp crops: the same OpenCV arithmetic, identical to the last bit.
    sharp = torch.from_numpy(~blurred)
    if NEW_OPENCV:
        assert torch.equal(with_opencv[sharp], with_torch[sharp])
    else:
        # The torch path reproduces OpenCV >= 4.11's float32 warp; an older OpenCV's fixed-point
        # warp differs on some pixels (measured with 4.5.4: up to 5 grey levels on 6-8 % of
        # the pixels, mean 0.06-0.08), so the paths only agree to that. crop_hands' OpenCV
        # path itself is compared with the official crop on this OpenCV above.
        diff = np.abs(grey_levels(with_opencv[sharp].numpy())
                      - grey_levels(with_torch[sharp].numpy()))
        assert diff.max() <= 6 and diff.mean() <= 0.15, (diff.max(), diff.mean())
    diff = np.abs(grey_levels(with_opencv[~sharp].numpy())
                  - grey_levels(with_torch[~sharp].numpy()))
    assert diff.max() < 1e-3, diff.max()
    assert blurred[1] and not blurred[0]
    assert np.abs(grey_levels(with_opencv[:2].numpy())).max() < 1e-4


def test_torch_path_follows_opencv_on_a_fixed_point_rounding_tie(ref):
    image = ref['image']
    # Left hand whose inverse x offset * 1024 lies on a .5 tie (-415.06884765625006): the
    # float64 round-off in the off-diagonal term tips OpenCV's fixed-point rounding for the
    # lower rows, so the blurred crop has two column grids.
    box = np.array([[385.31158, 276.1261, 750.08826, 513.91766]], dtype=np.float32)
    center, size = crop_geometry(box)
    inverse = _affine_inverse(center[0], size[0], True, image.shape[1], 256)
    assert blur_sigma(size)[0] > 0
    assert len(np.unique(fixed_point_column_starts(inverse, 256))) == 2
    official = official_crop(image, box[0], 0)
    for img in (torch_path(image, box, [0]), crop_hands(image, box, [0])['img']):
        diff = np.abs(grey_levels(img.numpy())[0] - official)
        assert diff.max() < 1e-3, diff.max()


def test_read_only_frame_is_read_in_place(ref):
    # Frames from ROS messages are read-only views of the message bytes.
    frame = np.frombuffer(ref['image'].tobytes(), dtype=np.uint8).reshape(ref['image'].shape)
    assert not frame.flags.writeable
    with warnings.catch_warnings():
        warnings.simplefilter('error')
        tensor = frame_to_tensor(frame)
        out = crop_hands(frame, ref['boxes'], ref['is_right'])
    assert tensor.data_ptr() == frame.ctypes.data
    expected = crop_hands(ref['image'].copy(), ref['boxes'], ref['is_right'])
    assert torch.equal(out['img'], expected['img'])


def test_no_boxes_and_bad_input(ref):
    out = crop_hands(ref['image'], np.zeros((0, 4)), [])
    assert out['img'].shape == (0, 3, 256, 256) and out['box_size'].shape == (0,)
    with pytest.raises(ValueError, match='positive finite width and height'):
        crop_hands(ref['image'], [[10, 10, 10, 50]], [1])
    with pytest.raises(ValueError, match='uint8 HxWx3'):
        crop_hands(ref['image'].astype(np.float32), ref['boxes'], ref['is_right'])
    with pytest.raises(ValueError, match='is_right'):
        crop_hands(ref['image'], ref['boxes'], [1])
