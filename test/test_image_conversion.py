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

"""sensor_msgs/Image and CompressedImage -> BGR conversion: every encoding, every size check."""

import types

import cv2
from fixture_paths import FIXTURES
import numpy as np
import pytest

from wilor_ros.image_conversion import (compressed_image_size, image_msg_to_bgr,
                                        raw_image_to_bgr, SUPPORTED_ENCODINGS)


@pytest.fixture(scope='module')
def photo():
    """Return a 64x96 patch of the detector fixture's 480x640 BGR test image."""
    return np.ascontiguousarray(np.load(FIXTURES / 'detector' / 'detect.npz')['image'][
        200:264, 300:396])


def raw_msg(pixels, encoding, step=None, padding=0, is_bigendian=0):
    """Duck-typed Image: ``pixels`` (H, W[, C]) laid out row by row with optional padding."""
    pixels = np.ascontiguousarray(pixels)
    height, width = pixels.shape[:2]
    row = pixels.reshape(height, -1).view(np.uint8)
    if padding:
        row = np.concatenate([row, np.full((height, padding), 0xAB, np.uint8)], axis=1)
    return types.SimpleNamespace(encoding=encoding, height=height, width=width,
                                 step=row.shape[1] if step is None else step,
                                 is_bigendian=is_bigendian, data=row.tobytes())


@pytest.mark.parametrize('padding', [0, 7])
@pytest.mark.parametrize('encoding,to_encoding', [
    ('bgr8', None), ('8UC3', None), ('rgb8', cv2.COLOR_BGR2RGB), ('bgra8', cv2.COLOR_BGR2BGRA),
    ('rgba8', cv2.COLOR_BGR2RGBA), ('8UC4', cv2.COLOR_BGR2BGRA)])
def test_colour_encodings_give_the_exact_bgr_image(photo, encoding, to_encoding, padding):
    pixels = photo if to_encoding is None else cv2.cvtColor(photo, to_encoding)
    converted = image_msg_to_bgr(raw_msg(pixels, encoding, padding=padding))
    assert converted.dtype == np.uint8 and converted.shape == photo.shape
    np.testing.assert_array_equal(converted, photo)


@pytest.mark.parametrize('encoding', ['mono8', '8UC1'])
def test_mono8_is_replicated_to_three_channels(photo, encoding):
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    converted = image_msg_to_bgr(raw_msg(grey, encoding, padding=3))
    assert converted.shape == photo.shape
    for channel in range(3):
        np.testing.assert_array_equal(converted[..., channel], grey)


@pytest.mark.parametrize('is_bigendian', [0, 1])
@pytest.mark.parametrize('encoding', ['mono16', '16UC1'])
def test_mono16_keeps_the_high_byte_in_either_byte_order(photo, encoding, is_bigendian):
    grey = cv2.cvtColor(photo, cv2.COLOR_BGR2GRAY)
    values = grey.astype(np.uint16) * 256 + 77  # the low byte must not leak into the result
    stored = values.astype('>u2' if is_bigendian else '<u2')
    converted = image_msg_to_bgr(raw_msg(stored, encoding, is_bigendian=is_bigendian))
    np.testing.assert_array_equal(converted[..., 1], grey)


@pytest.mark.parametrize('encoding,to_encoding', [('bgr16', None), ('rgb16', cv2.COLOR_BGR2RGB),
                                                  ('rgba16', cv2.COLOR_BGR2RGBA)])
def test_16_bit_colour(photo, encoding, to_encoding):
    pixels = photo if to_encoding is None else cv2.cvtColor(photo, to_encoding)
    stored = (pixels.astype(np.uint16) * 257).astype('<u2')
    np.testing.assert_array_equal(image_msg_to_bgr(raw_msg(stored, encoding)), photo)


def pack_uyvy(bgr):
    """
    Pack BGR as UYVY (U0 Y0 V0 Y1), BT.601 limited range, chroma averaged over each pair.

    Made here rather than with cv2.COLOR_BGR2YUV_UYVY, which OpenCV 4.5.4 (Ubuntu 22.04's
    python3-opencv) and 4.7.0 lack; it matches OpenCV 5's encoder within one grey level.
    """
    b, g, r = (bgr[..., channel].astype(np.float64) for channel in range(3))
    y = 16 + (65.481 * r + 128.553 * g + 24.966 * b) / 255
    u = 128 + (-37.797 * r - 74.203 * g + 112.0 * b) / 255
    v = 128 + (112.0 * r - 93.786 * g - 18.214 * b) / 255
    u, v = ((c[:, 0::2] + c[:, 1::2]) / 2 for c in (u, v))
    packed = np.stack([u, y[:, 0::2], v, y[:, 1::2]], axis=-1)
    return np.clip(np.round(packed), 0, 255).astype(np.uint8)


def test_yuv422_byte_orders_follow_image_encodings(photo):
    # UYVY is U0 Y0 V0 Y1; YUYV holds the same bytes as Y0 U0 Y1 V0.
    uyvy = pack_uyvy(photo)
    yuyv = uyvy[..., [1, 0, 3, 2]]
    decoded = {}
    for encoding, packed in (('yuv422', uyvy), ('uyvy', uyvy), ('yuv422_yuy2', yuyv),
                             ('yuyv', yuyv)):
        pairs = np.ascontiguousarray(packed).reshape(photo.shape[0], photo.shape[1], 2)
        decoded[encoding] = image_msg_to_bgr(raw_msg(pairs, encoding, padding=4))
    for encoding in ('uyvy', 'yuv422_yuy2', 'yuyv'):
        np.testing.assert_array_equal(decoded[encoding], decoded['yuv422'])
    # Only chroma is subsampled: the image comes back close to the original.
    error = np.abs(decoded['yuv422'].astype(int) - photo.astype(int))
    assert error.mean() < 6, error.mean()


@pytest.mark.parametrize('encoding,first_block', [
    ('bayer_rggb8', 'RGGB'), ('bayer_bggr8', 'BGGR'), ('bayer_gbrg8', 'GBRG'),
    ('bayer_grbg8', 'GRBG')])
def test_bayer_patterns_demosaic_a_flat_colour(encoding, first_block):
    blue, green, red = 40, 120, 220
    value = {'R': red, 'G': green, 'B': blue}
    mosaic = np.zeros((16, 20), np.uint8)
    for index, letter in enumerate(first_block):
        mosaic[index // 2::2, index % 2::2] = value[letter]
    converted = image_msg_to_bgr(raw_msg(mosaic, encoding))
    np.testing.assert_array_equal(converted[2:-2, 2:-2],
                                  np.broadcast_to([blue, green, red], (12, 16, 3)))


@pytest.mark.ros
def test_unpadded_bgr8_is_a_view_of_the_message_buffer(photo):
    from sensor_msgs.msg import Image

    msg = Image(height=photo.shape[0], width=photo.shape[1], encoding='bgr8',
                step=photo.shape[1] * 3)
    msg.data = photo.tobytes()
    converted = image_msg_to_bgr(msg)
    assert np.shares_memory(converted, np.frombuffer(msg.data, np.uint8))
    np.testing.assert_array_equal(converted, photo)


@pytest.mark.parametrize('change,words', [
    ({'step': 10}, 'step >= 288'),
    ({'data': b'\0' * 100}, 'needs 18432 bytes of data, got 100'),
    ({'data': b'\0' * 20000}, 'got 20000'),
    ({'encoding': 'bgr8_fancy'}, "unsupported image encoding 'bgr8_fancy'"),
    ({'encoding': ''}, 'unsupported image encoding'),
    ({'height': 0, 'width': 0, 'data': b''}, 'empty (0x0 pixels)'),
    ({'width': 0}, 'empty'),
])
def test_inconsistent_raw_images_are_refused_with_a_reason(photo, change, words):
    msg = raw_msg(photo, 'bgr8')
    for key, value in change.items():
        setattr(msg, key, value)
    with pytest.raises(ValueError) as error:
        raw_image_to_bgr(msg)
    assert words in str(error.value)


def test_more_pixels_than_the_limit_are_refused_before_the_data_is_read():
    msg = types.SimpleNamespace(encoding='rgb8', height=100000, width=100000, step=300000,
                                is_bigendian=0, data=b'')
    with pytest.raises(ValueError, match='more than the limit of 1000000'):
        image_msg_to_bgr(msg, max_pixels=1_000_000)


def test_odd_width_yuv_and_misaligned_16_bit_step_are_refused():
    yuv = types.SimpleNamespace(encoding='yuyv', height=2, width=3, step=6, is_bigendian=0,
                                data=bytes(12))
    with pytest.raises(ValueError, match='width must be even'):
        image_msg_to_bgr(yuv)
    mono16 = types.SimpleNamespace(encoding='mono16', height=2, width=3, step=7,
                                   is_bigendian=0, data=bytes(14))
    with pytest.raises(ValueError, match='not a multiple'):
        image_msg_to_bgr(mono16)


def test_supported_encodings_cover_the_common_camera_formats():
    for encoding in ('rgb8', 'bgr8', 'rgba8', 'bgra8', 'mono8', 'mono16', 'yuv422',
                     'yuv422_yuy2', 'uyvy', 'yuyv'):
        assert encoding in SUPPORTED_ENCODINGS


@pytest.mark.ros
@pytest.mark.parametrize('extension', ['.png', '.jpg'])
def test_compressed_images_decode_to_bgr(photo, extension):
    from sensor_msgs.msg import CompressedImage

    msg = CompressedImage(format=f'bgr8; {extension[1:]} compressed bgr8')
    msg.data = cv2.imencode(extension, photo)[1].tobytes()
    assert compressed_image_size(np.frombuffer(msg.data, np.uint8)) == (96, 64)
    converted = image_msg_to_bgr(msg)
    assert converted.shape == photo.shape
    if extension == '.png':
        np.testing.assert_array_equal(converted, photo)
    else:
        assert np.abs(converted.astype(int) - photo.astype(int)).mean() < 8


@pytest.mark.parametrize('data,image_format,words', [
    (b'', 'jpeg', 'has no data'),
    (b'this is not an image' * 10, 'jpeg', 'cannot decode'),
    (b'\xff\xd8\xff\xe0\x00\x10JFIF' + bytes(40), 'jpeg', 'cannot decode'),
    (b'\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x01\x86\xa0\x00\x01\x86\xa0' + bytes(20),
     'png', 'more than the limit'),
    (b'\x89PNG\r\n\x1a\n', 'bgr8; compressedDepth png', 'depth image'),
])
def test_bad_compressed_images_are_refused_with_a_reason(data, image_format, words):
    msg = types.SimpleNamespace(format=image_format, data=data)
    with pytest.raises(ValueError) as error:
        image_msg_to_bgr(msg, max_pixels=4096 * 4096)
    assert words in str(error.value)
