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
sensor_msgs/Image and CompressedImage -> BGR uint8 arrays, the input of the WiLoR pipeline.

Written against the message *attributes* only (``encoding``, ``height``, ``width``, ``step``,
``is_bigendian``, ``data``; ``format`` and ``data`` for compressed images), so the same code
converts rclpy messages in the node and MCAP-decoded messages in ``wilor-infer``; it imports
no ROS package. Raw pixel data is wrapped with ``np.frombuffer`` (no copy); a bgr8 image whose
rows are not padded comes back as a view of the message buffer, every other encoding costs the
one colour conversion it needs. Every size is checked against the data before it is touched,
and every problem is a ``ValueError`` that says what was wrong, so a node can log it and go
on with the next frame.

Encoding names and their channel orders follow ``sensor_msgs/image_encodings.hpp`` and
cv_bridge: 'yuv422' is UYVY byte order (U0 Y0 V0 Y1), 'yuv422_yuy2' is YUYV (Y0 U0 Y1 V0);
'uyvy' and 'yuyv' are their newer names. Bayer names give the first 2x2 block of the mosaic,
which OpenCV names by the second row: bayer_rggb8 is OpenCV's BayerBG pattern.
"""

import cv2
import numpy as np

# 8-bit encodings: channels per pixel and the OpenCV conversion to BGR (None: already BGR).
_EIGHT_BIT = {
    'bgr8': (3, None),
    '8UC3': (3, None),  # cv_bridge treats an untyped 3-channel image as BGR.
    'rgb8': (3, cv2.COLOR_RGB2BGR),
    'bgra8': (4, cv2.COLOR_BGRA2BGR),
    '8UC4': (4, cv2.COLOR_BGRA2BGR),
    'rgba8': (4, cv2.COLOR_RGBA2BGR),
    'mono8': (1, cv2.COLOR_GRAY2BGR),
    '8UC1': (1, cv2.COLOR_GRAY2BGR),
    'bayer_rggb8': (1, cv2.COLOR_BayerBG2BGR),
    'bayer_bggr8': (1, cv2.COLOR_BayerRG2BGR),
    'bayer_gbrg8': (1, cv2.COLOR_BayerGR2BGR),
    'bayer_grbg8': (1, cv2.COLOR_BayerGB2BGR),
}
# 16-bit encodings: channels per pixel and the conversion of the top byte to BGR.
_SIXTEEN_BIT = {
    'mono16': (1, cv2.COLOR_GRAY2BGR),
    '16UC1': (1, cv2.COLOR_GRAY2BGR),
    'bgr16': (3, None),
    'rgb16': (3, cv2.COLOR_RGB2BGR),
    'bgra16': (4, cv2.COLOR_BGRA2BGR),
    'rgba16': (4, cv2.COLOR_RGBA2BGR),
}
# Packed 4:2:2 YUV, two bytes per pixel.
_YUV422 = {
    'yuv422': cv2.COLOR_YUV2BGR_UYVY,
    'uyvy': cv2.COLOR_YUV2BGR_UYVY,
    'yuv422_yuy2': cv2.COLOR_YUV2BGR_YUY2,
    'yuyv': cv2.COLOR_YUV2BGR_YUY2,
}

SUPPORTED_ENCODINGS = tuple(sorted({*_EIGHT_BIT, *_SIXTEEN_BIT, *_YUV422}))

# Above this many pixels an image is refused unless the caller sets its own limit: 8K UHD.
DEFAULT_MAX_PIXELS = 7680 * 4320


def _check_size(height, width, max_pixels, what):
    if height <= 0 or width <= 0:
        raise ValueError(f'{what} is empty ({width}x{height} pixels)')
    if max_pixels is not None and height * width > max_pixels:
        raise ValueError(f'{what} has {width}x{height} = {width * height} pixels, more than '
                         f'the limit of {max_pixels}')


def _pixel_rows(msg, bytes_per_pixel, element_size=1):
    """
    Check height/width/step/data of a raw image; return its rows as a (H, W * bpp) uint8 view.

    A step larger than the row (row padding) is allowed, as sensor_msgs permits; the returned
    view then skips the padding without copying.
    """
    height, width, step = int(msg.height), int(msg.width), int(msg.step)
    row_bytes = width * bytes_per_pixel
    encoding = msg.encoding
    if step < row_bytes:
        raise ValueError(f'{encoding} image of width {width} needs step >= {row_bytes} bytes '
                         f'({bytes_per_pixel} per pixel), got step {step}')
    if step % element_size:
        raise ValueError(f'{encoding} image step {step} is not a multiple of its '
                         f'{element_size}-byte channel size')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size != step * height:
        raise ValueError(f'{encoding} image {width}x{height} with step {step} needs '
                         f'{step * height} bytes of data, got {data.size}')
    return data.reshape(height, step)[:, :row_bytes]


def raw_image_to_bgr(msg, max_pixels=DEFAULT_MAX_PIXELS):
    """
    Convert a sensor_msgs/Image (any object with its attributes) to a BGR uint8 (H, W, 3) array.

    bgr8 without row padding is returned as a read-only or writable view of ``msg.data``
    (whatever the buffer is); other encodings return a new array. 16-bit images keep their
    top 8 bits. Raises ValueError for an unsupported encoding or inconsistent sizes.
    """
    encoding = str(msg.encoding)
    height, width = int(msg.height), int(msg.width)
    _check_size(height, width, max_pixels, f'{encoding or "raw"} image')
    if encoding in _EIGHT_BIT:
        channels, conversion = _EIGHT_BIT[encoding]
        rows = _pixel_rows(msg, channels)
        pixels = rows.reshape(height, width, channels) if channels > 1 else rows
        if conversion is None:
            return pixels
        return cv2.cvtColor(np.ascontiguousarray(pixels), conversion)
    if encoding in _SIXTEEN_BIT:
        channels, conversion = _SIXTEEN_BIT[encoding]
        rows = _pixel_rows(msg, 2 * channels, element_size=2)
        # The most significant byte of each little- or big-endian 16-bit value.
        high_byte = 0 if msg.is_bigendian else 1
        pixels = rows.reshape(height, width, channels, 2)[..., high_byte]
        pixels = np.ascontiguousarray(pixels if channels > 1 else pixels[..., 0])
        return pixels if conversion is None else cv2.cvtColor(pixels, conversion)
    if encoding in _YUV422:
        if width % 2:
            raise ValueError(f'{encoding} image width must be even (two pixels share U and V), '
                             f'got {width}')
        rows = _pixel_rows(msg, 2)
        packed = np.ascontiguousarray(rows.reshape(height, width, 2))
        return cv2.cvtColor(packed, _YUV422[encoding])
    raise ValueError(f'unsupported image encoding {encoding!r}; supported: '
                     f'{", ".join(SUPPORTED_ENCODINGS)}')


def compressed_image_to_bgr(msg, max_pixels=DEFAULT_MAX_PIXELS):
    """
    Decode a sensor_msgs/CompressedImage (JPEG, PNG, ... as OpenCV reads) to BGR uint8.

    image_transport's compressed plugin converts colour images to bgr8 before compressing,
    so the decoded channel order is BGR whatever the ``format`` string says first. Depth
    images ('compressedDepth') are refused. Raises ValueError when the data cannot be decoded
    or the result is larger than ``max_pixels``.
    """
    image_format = str(getattr(msg, 'format', ''))
    if 'compresseddepth' in image_format.lower():
        raise ValueError(f'compressed image format {image_format!r} is a depth image, '
                         'expected a colour or mono image')
    data = np.frombuffer(msg.data, dtype=np.uint8)
    if data.size == 0:
        raise ValueError(f'compressed image ({image_format or "no format"}) has no data')
    header_size = compressed_image_size(data)
    if header_size is not None:
        # Checked before decoding: a few kilobytes of PNG can claim gigapixels.
        _check_size(header_size[1], header_size[0], max_pixels, 'compressed image')
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR)
    except cv2.error as error:
        raise ValueError(f'cannot decode compressed image ({image_format or "no format"}, '
                         f'{data.size} bytes): {error}') from None
    if image is None:
        raise ValueError(f'cannot decode compressed image ({image_format or "no format"}, '
                         f'{data.size} bytes): not a format OpenCV can read, or damaged')
    _check_size(image.shape[0], image.shape[1], max_pixels, 'decoded compressed image')
    return image


def compressed_image_size(data):
    """
    Return (width, height) from a PNG or JPEG header without decoding, or None if unknown.

    PNG: the IHDR chunk right after the signature; JPEG: the first start-of-frame marker
    (SOF0..SOF15 except DHT, JPG and DAC, which share the marker range).
    """
    data = memoryview(np.asarray(data, dtype=np.uint8)).cast('B')
    if bytes(data[:8]) == b'\x89PNG\r\n\x1a\n' and len(data) >= 24:
        return (int.from_bytes(data[16:20], 'big'), int.from_bytes(data[20:24], 'big'))
    if bytes(data[:2]) != b'\xff\xd8':
        return None
    offset = 2
    while offset + 4 <= len(data):
        if data[offset] != 0xFF:
            return None
        marker = data[offset + 1]
        if marker == 0xFF:  # Fill byte before a marker.
            offset += 1
            continue
        if marker in (0x01, *range(0xD0, 0xD8)):  # Markers without a length field.
            offset += 2
            continue
        length = int.from_bytes(data[offset + 2:offset + 4], 'big')
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            if offset + 9 > len(data):
                return None
            height = int.from_bytes(data[offset + 5:offset + 7], 'big')
            width = int.from_bytes(data[offset + 7:offset + 9], 'big')
            return width, height
        offset += 2 + length
    return None


def is_compressed(msg):
    """Tell a CompressedImage-like message (``format`` but no ``encoding``) from an Image."""
    return hasattr(msg, 'format') and not hasattr(msg, 'encoding')


def image_msg_to_bgr(msg, max_pixels=DEFAULT_MAX_PIXELS):
    """Convert an Image or CompressedImage message to a BGR uint8 (H, W, 3) array."""
    if is_compressed(msg):
        return compressed_image_to_bgr(msg, max_pixels)
    return raw_image_to_bgr(msg, max_pixels)


# Depth encodings: (numpy dtype, unit). 16UC1 / mono16 are millimetres (RealSense, Azure
# Kinect, the REP-118 convention), 32FC1 metres.
DEPTH_ENCODINGS = {'16UC1': (np.uint16, 'mm'), 'mono16': (np.uint16, 'mm'),
                   '32FC1': (np.float32, 'm')}


def depth_image_to_array(msg, max_pixels=DEFAULT_MAX_PIXELS):
    """
    Convert a depth sensor_msgs/Image (16UC1 / mono16 mm, 32FC1 m) to a (H, W) numpy array.

    uint16 millimetres or float32 metres as sent (units and "no data" values:
    :func:`wilor_ros.depth_fusion.depth_to_metres`), in native byte order. Raises ValueError
    for another encoding or inconsistent sizes.
    """
    encoding = str(msg.encoding)
    if encoding not in DEPTH_ENCODINGS:
        raise ValueError(f'unsupported depth encoding {encoding!r}; supported: '
                         f'{", ".join(DEPTH_ENCODINGS)}')
    height, width = int(msg.height), int(msg.width)
    _check_size(height, width, max_pixels, f'{encoding} depth image')
    dtype = np.dtype(DEPTH_ENCODINGS[encoding][0])
    rows = _pixel_rows(msg, dtype.itemsize, element_size=dtype.itemsize)
    order = '>' if msg.is_bigendian else '<'
    pixels = np.ascontiguousarray(rows).view(dtype.newbyteorder(order)).reshape(height, width)
    return pixels.astype(dtype, copy=False)
