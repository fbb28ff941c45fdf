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
Draw reconstructed hands over the input image with OpenCV: mesh, skeleton, boxes and labels.

Used for the node's ``debug_image`` and ``wilor-infer --overlay``; plain numpy and OpenCV.
The mesh is rendered without a GPU: its triangles are projected through the camera the hand
was placed with, sorted far to near (painter's algorithm) and filled one by one, each shaded
by how directly it faces the camera, then blended over the image. Drawing 1538 triangles
this way takes a few milliseconds per hand.
"""

import cv2
import numpy as np

from wilor_ros.skeleton import BONES

# The hand colours (RGBA, 0..1) and mesh opacity of the overlay, RViz markers
# (wilor_ros.ros.markers.MarkerStyle) and the node's markers.* parameter defaults. The mesh is
# translucent so that the skeleton stays visible through it; 0 = no mesh.
DEFAULT_LEFT_COLOR = (0.15, 0.55, 1.0, 1.0)
DEFAULT_RIGHT_COLOR = (1.0, 0.45, 0.15, 1.0)
DEFAULT_MESH_ALPHA = 0.6

# fillConvexPoly/line take fixed-point coordinates with this many fractional bits.
_SHIFT = 4
# Pixel coordinates are clipped to this range so far-off projections still fit in int32.
_COORDINATE_LIMIT = 1e6


def rgba_to_bgr(rgba):
    """Convert an RGBA colour with components in 0..1 to an OpenCV BGR tuple of 0..255."""
    r, g, b = (float(np.clip(value, 0.0, 1.0)) for value in tuple(rgba)[:3])
    return (int(round(255 * b)), int(round(255 * g)), int(round(255 * r)))


def hand_camera(hand, camera_matrix=None):
    """Return (fx, fy, cx, cy): the camera matrix if given, else the one the hand recorded."""
    if camera_matrix is not None:
        k = np.asarray(camera_matrix, dtype=np.float64).reshape(3, 3)
        return k[0, 0], k[1, 1], k[0, 2], k[1, 2]
    cx, cy = np.asarray(hand.principal_point, dtype=np.float64).reshape(2)
    fx, fy = np.asarray(hand.focal_length, dtype=np.float64).reshape(2)
    return fx, fy, cx, cy


def _fixed_point(points):
    points = np.clip(np.asarray(points, dtype=np.float64), -_COORDINATE_LIMIT, _COORDINATE_LIMIT)
    return np.round(points * (1 << _SHIFT)).astype(np.int32)


def render_mesh(canvas, vertices, faces, camera, color_bgr):
    """
    Fill the projected triangles of one mesh into ``canvas`` (in place), far ones first.

    ``camera`` is (fx, fy, cx, cy); triangles with a vertex behind or at the camera are
    skipped. Returns the number of triangles drawn.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces)
    if faces.size == 0 or faces.max() >= len(vertices):
        return 0
    triangles = vertices[faces]
    visible = (triangles[..., 2] > 1e-3).all(axis=1) & np.isfinite(triangles).all(axis=(1, 2))
    triangles = triangles[visible]
    if not len(triangles):
        return 0
    fx, fy, cx, cy = camera
    pixels = np.stack([fx * triangles[..., 0] / triangles[..., 2] + cx,
                       fy * triangles[..., 1] / triangles[..., 2] + cy], axis=-1)
    normals = np.cross(triangles[:, 1] - triangles[:, 0], triangles[:, 2] - triangles[:, 0])
    centres = triangles.mean(axis=1)
    # |cos| between normal and line of sight: independent of the winding, so left and right
    # meshes shade alike; the floor keeps grazing triangles from turning black.
    cosine = np.abs((normals * centres).sum(axis=1)) / np.maximum(
        np.linalg.norm(normals, axis=1) * np.linalg.norm(centres, axis=1), 1e-12)
    shades = np.outer(0.35 + 0.65 * cosine, np.asarray(color_bgr, dtype=np.float64))
    shades = np.clip(np.round(shades), 0, 255).astype(np.int32).tolist()
    polygons = _fixed_point(pixels)
    for index in np.argsort(-centres[:, 2], kind='stable').tolist():
        cv2.fillConvexPoly(canvas, polygons[index], shades[index], cv2.LINE_8, _SHIFT)
    return len(triangles)


def draw_skeleton(canvas, keypoints_2d, color_bgr, thickness):
    """Draw the 20 bones and 21 joints of one hand from its (21, 2) pixel keypoints."""
    keypoints = np.asarray(keypoints_2d, dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(keypoints).all():
        return
    points = _fixed_point(keypoints)
    for parent, child in BONES:
        cv2.line(canvas, tuple(points[parent].tolist()), tuple(points[child].tolist()),
                 color_bgr, thickness, cv2.LINE_AA, _SHIFT)
    for point in points.tolist():
        cv2.circle(canvas, tuple(point), (thickness + 1) << _SHIFT, (255, 255, 255), -1,
                   cv2.LINE_AA, _SHIFT)


def hand_label(hand):
    """Short text for a hand: side, score, track id and wrist depth."""
    parts = [hand.side if hasattr(hand, 'side') else ('right' if hand.is_right else 'left'),
             f'{float(hand.score):.2f}']
    if getattr(hand, 'track_id', ''):
        parts.append(f'#{hand.track_id}')
    depth = float(np.asarray(hand.keypoints_3d, dtype=np.float64).reshape(-1, 3)[0, 2])
    if np.isfinite(depth):
        parts.append(f'{depth:.2f} m')
    return ' '.join(parts)


def draw_box(canvas, box, label, color_bgr, thickness):
    """Draw a detection box with its label on a filled background above it."""
    box = np.asarray(box, dtype=np.float64).reshape(4)
    if not np.isfinite(box).all():
        return
    x0, y0, x1, y1 = np.clip(np.round(box), -_COORDINATE_LIMIT, _COORDINATE_LIMIT).astype(int)
    cv2.rectangle(canvas, (x0, y0), (x1, y1), color_bgr, thickness, cv2.LINE_AA)
    scale = max(0.4, thickness * 0.4)
    (width, height), baseline = cv2.getTextSize(label, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    top = y0 - height - baseline - 2 if y0 - height - baseline - 2 >= 0 else y0
    cv2.rectangle(canvas, (x0, top), (x0 + width + 4, top + height + baseline + 2), color_bgr,
                  -1)
    cv2.putText(canvas, label, (x0 + 2, top + height + 1), cv2.FONT_HERSHEY_SIMPLEX, scale,
                (0, 0, 0), 1, cv2.LINE_AA)


def draw_hands(image_bgr, hands, faces=None, *, camera_matrix=None,
               left_color=DEFAULT_LEFT_COLOR, right_color=DEFAULT_RIGHT_COLOR,
               mesh_alpha=DEFAULT_MESH_ALPHA, draw_mesh=True, draw_skeleton_lines=True,
               draw_boxes=True):
    """
    Return a copy of ``image_bgr`` (H, W, 3 uint8) with the hands drawn over it.

    Meshes need ``faces`` (MANO right-hand triangles) and hands with vertices; they are
    projected through ``camera_matrix`` (3x3) when given, else through each hand's
    ``focal_length`` and ``principal_point``, and blended with ``mesh_alpha``. Colours are
    RGBA in 0..1 (as the node's parameters).
    """
    image = np.asarray(image_bgr)
    if image.ndim != 3 or image.shape[2] != 3 or image.dtype != np.uint8:
        raise ValueError(f'expected a BGR uint8 image (H, W, 3), got {image.dtype} '
                         f'{image.shape}')
    canvas = image.copy()
    thickness = max(1, int(round(max(image.shape[:2]) / 480)))
    colors = {True: rgba_to_bgr(right_color), False: rgba_to_bgr(left_color)}
    if draw_mesh and faces is not None and mesh_alpha > 0:
        meshes = [hand for hand in hands if hand.vertices is not None]
        if meshes:
            layer = canvas.copy()
            # Far hands first, so a near hand covers a far one.
            meshes.sort(key=lambda hand: -float(np.nan_to_num(
                np.asarray(hand.cam_t, dtype=np.float64).reshape(3)[2], nan=0.0)))
            for hand in meshes:
                render_mesh(layer, hand.vertices, faces, hand_camera(hand, camera_matrix),
                            colors[bool(hand.is_right)])
            alpha = float(np.clip(mesh_alpha, 0.0, 1.0))
            canvas = cv2.addWeighted(layer, alpha, canvas, 1.0 - alpha, 0.0)
    for hand in hands:
        color = colors[bool(hand.is_right)]
        if draw_skeleton_lines:
            draw_skeleton(canvas, hand.keypoints_2d, color, thickness)
        if draw_boxes:
            draw_box(canvas, hand.box, hand_label(hand), color, thickness)
    return canvas
