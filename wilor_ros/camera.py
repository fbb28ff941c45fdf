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
The camera model, one owner: intrinsics (fx, fy, cx, cy), how they are obtained, how they are used.

WiLoR predicts, per crop, a weak-perspective camera ``(s, tx, ty)`` of a virtual pinhole
camera with focal length :data:`CROP_FOCAL_LENGTH` px for the :data:`CROP_SIZE` px crop, looking
at the crop centre. The official demo turns it into a translation of the MANO root in a
full-image camera with the focal length heuristic ``F = 5000 / 256 * max(W, H)`` and the
principal point at the image centre (:func:`wilor_focal_heuristic`,
:func:`wilor_heuristic_intrinsics`). :func:`cam_crop_to_camera` is that construction for any K:
with a calibrated camera (``sensor_msgs/CameraInfo`` K) it gives a metric translation for that
camera, with the heuristic intrinsics the official demo's (the official ``cam_crop_to_full``
itself lives on as the tests' reference, ``test/reference_math.py``).

Every source of intrinsics goes through :func:`intrinsics_from_values`, the one validity rule:
a CameraInfo ``k`` (:func:`intrinsics_from_camera_info_k`), a 3x3 matrix
(:func:`intrinsics_from_matrix`), a command-line string or a YAML camera file
(:func:`parse_camera_spec`). :func:`field_of_view_guess` is the camera *source's* guess for an
uncalibrated webcam, a different thing from WiLoR's heuristic.

Conventions: OpenCV / REP-103 optical frame (x right, y down, z forward), pixels with the
origin at the centre of the top-left pixel, u = fx X / Z + cx, v = fy Y / Z + cy.
"""

import dataclasses
import math
import pathlib

import numpy as np
import torch

# WiLoR's virtual crop camera: 5000 px focal length for a 256 px crop (official config
# EXTRA.FOCAL_LENGTH and MODEL.IMAGE_SIZE; checkpoints may store other values).
CROP_FOCAL_LENGTH = 5000.0
CROP_SIZE = 256

# Plausible focal lengths in pixels. Real cameras lie between ~50 px (a tiny fisheye image) and
# ~1e5 px (a long telephoto on a large sensor); WiLoR's own heuristic for an 8K frame is
# 5000 / 256 * 7680 = 1.5e5 px. Outside this range a K is a unit or typing error, and
# finite-but-absurd values (1e300) overflow float32 further down the pipeline.
MIN_FOCAL_LENGTH = 1.0
MAX_FOCAL_LENGTH = 1.0e6
# The principal point may lie outside the image (cropped or shifted sensors) but not absurdly.
MAX_PRINCIPAL_POINT = 1.0e6


class CameraError(ValueError):
    """Intrinsics that cannot describe a camera; the message names the values."""


@dataclasses.dataclass(frozen=True)
class CameraIntrinsics:
    """
    Pinhole intrinsics in pixels used to place the hands.

    ``from_camera_info`` is True for a real camera matrix and False for WiLoR's heuristic.
    """

    fx: float
    fy: float
    cx: float
    cy: float
    from_camera_info: bool

    @property
    def focal_length(self):
        """(fx, fy) as a float32 array."""
        return np.array([self.fx, self.fy], dtype=np.float32)

    @property
    def principal_point(self):
        """(cx, cy) as a float32 array."""
        return np.array([self.cx, self.cy], dtype=np.float32)

    @property
    def matrix(self):
        """Return the 3x3 camera matrix K (float64)."""
        return np.array([[self.fx, 0.0, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])


def intrinsics_from_values(fx, fy, cx, cy, from_camera_info=True):
    """
    Validate fx, fy, cx, cy (pixels) and return :class:`CameraIntrinsics`; CameraError if not.

    The one validity rule for every source: finite numbers, focal lengths within
    [MIN_FOCAL_LENGTH, MAX_FOCAL_LENGTH], principal point within +-MAX_PRINCIPAL_POINT.
    """
    try:
        fx, fy, cx, cy = (float(value) for value in (fx, fy, cx, cy))
    except (TypeError, ValueError):
        raise CameraError(f'camera intrinsics must be numbers, got fx={fx!r}, fy={fy!r}, '
                          f'cx={cx!r}, cy={cy!r}') from None
    values = f'fx={fx:g}, fy={fy:g}, cx={cx:g}, cy={cy:g}'
    if not all(math.isfinite(value) for value in (fx, fy, cx, cy)):
        raise CameraError(f'camera intrinsics must be finite, got {values}')
    if not (MIN_FOCAL_LENGTH <= fx <= MAX_FOCAL_LENGTH
            and MIN_FOCAL_LENGTH <= fy <= MAX_FOCAL_LENGTH):
        raise CameraError(f'focal lengths must lie in [{MIN_FOCAL_LENGTH:g}, '
                          f'{MAX_FOCAL_LENGTH:g}] px, got {values}')
    if abs(cx) > MAX_PRINCIPAL_POINT or abs(cy) > MAX_PRINCIPAL_POINT:
        raise CameraError(f'principal point beyond +-{MAX_PRINCIPAL_POINT:g} px: {values}')
    return CameraIntrinsics(fx=fx, fy=fy, cx=cx, cy=cy, from_camera_info=bool(from_camera_info))


def intrinsics_from_matrix(camera_matrix):
    """
    Intrinsics from a 3x3 camera matrix K (or its 9 values row-major, as CameraInfo.k).

    The skew term K[0, 1] is ignored (zero for every ROS camera driver); raises CameraError
    (a ValueError) when the values are not those of a camera (:func:`intrinsics_from_values`).
    A :class:`CameraIntrinsics` is returned as it is.
    """
    if isinstance(camera_matrix, CameraIntrinsics):
        return camera_matrix
    try:
        k = np.asarray(camera_matrix, dtype=np.float64)
    except (TypeError, ValueError):
        raise CameraError('camera matrix must be 3x3 numbers') from None
    if k.size != 9:
        raise CameraError(f'camera matrix must be 3x3 (or 9 values), got shape {k.shape}')
    k = k.reshape(3, 3)
    return intrinsics_from_values(k[0, 0], k[1, 1], k[0, 2], k[1, 2])


def intrinsics_from_camera_info_k(k):
    """
    Intrinsics of a CameraInfo ``k`` (9 values row-major), or None for an uncalibrated camera.

    ROS marks an uncalibrated camera with K = 0 (sensor_msgs/CameraInfo); anything else must
    pass the validity rule (CameraError).
    """
    values = np.asarray(list(k), dtype=np.float64)
    if values.size == 9 and np.all(values == 0.0):
        return None
    return intrinsics_from_matrix(values)


def parse_camera_spec(text):
    """
    Intrinsics from ``fx,fy,cx,cy`` or from a YAML camera file; CameraError when unusable.

    YAML files may be a ``camera_calibration`` file (``camera_matrix: {data: [9 values]}``), a
    CameraInfo dump (``k:`` or ``K:`` with 9 values) or plain ``fx, fy, cx, cy`` keys.
    """
    path = pathlib.Path(text).expanduser()
    if path.suffix.lower() in ('.yaml', '.yml') or path.is_file():
        import yaml

        try:
            content = yaml.safe_load(path.read_text())
        except (OSError, yaml.YAMLError) as error:
            raise CameraError(f'cannot read camera file {path}: {error}') from None
        if not isinstance(content, dict):
            raise CameraError(f'camera file {path} holds no YAML mapping')
        if isinstance(content.get('camera_matrix'), dict):
            values = content['camera_matrix'].get('data')
        elif content.get('k') is not None or content.get('K') is not None:
            values = content.get('k') if content.get('k') is not None else content.get('K')
        elif all(key in content for key in ('fx', 'fy', 'cx', 'cy')):
            return intrinsics_from_values(content['fx'], content['fy'], content['cx'],
                                          content['cy'])
        else:
            values = None
        if values is None or np.size(values) != 9:
            raise CameraError(
                f'camera file {path}: expected camera_matrix.data (9 values), k / K (9 values) '
                'or fx, fy, cx, cy')
        try:
            return intrinsics_from_matrix(values)
        except CameraError as error:
            raise CameraError(f'camera file {path}: {error}') from None
    try:
        fx, fy, cx, cy = (float(value) for value in text.split(','))
    except ValueError:
        raise CameraError(f'{text!r}: expected fx,fy,cx,cy in pixels or a YAML camera '
                          'file') from None
    return intrinsics_from_values(fx, fy, cx, cy)


def wilor_focal_heuristic(width, height, crop_focal_length=CROP_FOCAL_LENGTH,
                          crop_size=CROP_SIZE):
    """
    Focal length of the WiLoR demo, ``5000 / 256 * max(W, H)`` pixels (float32, as the demo).

    The crop camera's 5000 px for 256 px is scaled as if the whole image were one crop, i.e.
    a field of view of about 2.9 degrees: hands come out far away (10-20 m) but project right.
    """
    return float(np.float32(crop_focal_length / crop_size) * np.float32(max(width, height)))


def wilor_heuristic_intrinsics(width, height, crop_focal_length=CROP_FOCAL_LENGTH,
                               crop_size=CROP_SIZE):
    """Official demo camera: F = 5000/256 * max(W, H), principal point (W/2, H/2)."""
    focal = wilor_focal_heuristic(width, height, crop_focal_length, crop_size)
    return CameraIntrinsics(fx=focal, fy=focal, cx=float(width) / 2.0, cy=float(height) / 2.0,
                            from_camera_info=False)


def field_of_view_guess(width, height):
    """
    Guess a camera for an uncalibrated source: fx = fy = max(W, H), centred principal point.

    A focal length equal to the image width is a horizontal field of view of
    2 * atan(0.5) = 53.1 degrees, typical for webcams and phone cameras; the principal point is
    the image centre in the OpenCV pixel-centre convention, ((W - 1) / 2, (H - 1) / 2).
    Unlike :func:`wilor_heuristic_intrinsics` this is meant as a plausible real camera.
    """
    focal = float(max(width, height))
    return CameraIntrinsics(fx=focal, fy=focal, cx=(width - 1) / 2.0, cy=(height - 1) / 2.0,
                            from_camera_info=False)


def cam_crop_to_camera(cam_bbox, box_center, box_size, intrinsics):
    """
    Crop camera [s, tx, ty] -> MANO root translation for a camera with K (fx, fy, cx, cy).

    Derivation. The crop is a b x b pixel square of the image around the box centre
    (cxb, cyb), sampled isotropically (square pixels in image units). WiLoR's crop camera is
    nearly orthographic (tz = 2 * 5000 / (256 s), metres-to-crop scale s / 2), so the network
    places a MANO point X (MANO frame, mirrored for left hands) at

        u = cxb + (b s / 2) (X + tx),    v = cyb + (b s / 2) (Y + ty)    (image pixels).

    A camera with K sees the translated point at u = fx (X + Tx) / (Z + Tz) + cx and
    v = fy (Y + Ty) / (Z + Tz) + cy. Asking both to agree to first order in X / Tz (the
    weak-perspective limit, exact for points at the MANO origin or with Z = 0) gives

        scale:  fx / Tz = b s / 2                  ->  Tz = 2 fx / (b s)
        u:      fx Tx / Tz + cx = cxb + b s tx / 2 ->  Tx = tx + 2 (cxb - cx) / (b s)
        v:      fy Ty / Tz + cy = cyb + b s ty / 2 ->  Ty = (fx / fy) (ty + 2 (cyb - cy) / (b s))

    The depth is set from fx (the crop scale is matched horizontally). With non-square pixels
    (fx != fy) the crop itself saw the image stretched, and the whole y translation is scaled
    by fx / fy so that the root projects through fy onto the same pixel as the network put it;
    with fx = fy the factor is 1 and this is the official ``cam_crop_to_full`` with F = fx and
    (cx, cy) instead of the image centre (and no ``+ 1e-9``). The translation is metric in so
    far as K is real, because a MANO hand has a real size: doubling fx doubles Tz.

    Arguments may be numpy or torch; returns (B, 3) in float64 (numpy) or the input dtype.
    """
    bs = box_size * cam_bbox[:, 0]
    fx, fy = intrinsics.fx, intrinsics.fy
    tz = 2.0 * fx / bs
    tx = cam_bbox[:, 1] + 2.0 * (box_center[:, 0] - intrinsics.cx) / bs
    ty = (fx / fy) * (cam_bbox[:, 2] + 2.0 * (box_center[:, 1] - intrinsics.cy) / bs)
    if isinstance(tz, torch.Tensor):
        return torch.stack([tx, ty, tz], dim=-1)
    return np.stack([tx, ty, tz], axis=-1)


def project_points(points, intrinsics):
    """Pinhole projection of camera-frame points (..., 3) to pixels (..., 2)."""
    if isinstance(points, torch.Tensor):
        focal = points.new_tensor([intrinsics.fx, intrinsics.fy])
        centre = points.new_tensor([intrinsics.cx, intrinsics.cy])
    else:
        focal = np.array([intrinsics.fx, intrinsics.fy])
        centre = np.array([intrinsics.cx, intrinsics.cy])
    return focal * points[..., :2] / points[..., 2:3] + centre
