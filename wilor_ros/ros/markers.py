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
RViz markers for reconstructed hands (visualization_msgs/MarkerArray).

Per hand: the MANO mesh as one TRIANGLE_LIST in a single colour per side (RViz shades a
single-coloured triangle list with its normals; per-vertex colours would switch shading off),
the skeleton as a LINE_LIST and the 21 joints as a SPHERE_LIST. The array starts with a
DELETEALL for the namespace so that hands which disappeared are removed in the same update.
Markers live until the next array replaces them (lifetime 0 = forever): the real model can take
longer than a second per frame on a CPU, and any finite lifetime shorter than the frame
interval makes the mesh blink. A node that stops (deactivate, shutdown) clears them with
:func:`clear_markers`.

RViz rules kept here (a violating marker is rejected with an error in the Displays panel):
triangle lists hold a multiple of 3 points, line lists an even number; every coordinate is
finite; a triangle list's scale is (1, 1, 1) because RViz multiplies the points by it. Left
hands are mirrored MANO meshes, so their triangles are wound (a, c, b) to keep the normals
pointing outwards.
"""

import dataclasses
from typing import Tuple

from builtin_interfaces.msg import Duration
from geometry_msgs.msg import Point
import numpy as np
from std_msgs.msg import ColorRGBA
from visualization_msgs.msg import Marker, MarkerArray

from wilor_ros.debug_overlay import DEFAULT_LEFT_COLOR, DEFAULT_MESH_ALPHA, DEFAULT_RIGHT_COLOR
from wilor_ros.skeleton import BONES
from wilor_ros.stamps import from_nanoseconds, seconds_to_nanoseconds

# Marker ids inside the namespace: MARKERS_PER_HAND consecutive ids per hand.
MESH, SKELETON, JOINTS = 0, 1, 2
MARKERS_PER_HAND = 3


@dataclasses.dataclass(frozen=True)
class MarkerStyle:
    """
    Colours (RGBA, 0..1), sizes (metres) and lifetime (seconds) of the hand markers.

    ``lifetime`` 0 keeps a marker until the next frame's DELETEALL replaces it.
    """

    # The debug image's colours and opacity: one hand looks the same in RViz and the overlay.
    left_color: Tuple[float, float, float, float] = DEFAULT_LEFT_COLOR
    right_color: Tuple[float, float, float, float] = DEFAULT_RIGHT_COLOR
    mesh_alpha: float = DEFAULT_MESH_ALPHA
    lifetime: float = 0.0
    line_width: float = 0.004
    joint_diameter: float = 0.01
    namespace: str = 'wilor_hands'


def _duration(seconds):
    sec, nanosec = from_nanoseconds(seconds_to_nanoseconds(max(float(seconds), 0.0)))
    return Duration(sec=sec, nanosec=nanosec)


def _color(rgba, alpha=None):
    r, g, b, a = (float(value) for value in rgba)
    return ColorRGBA(r=r, g=g, b=b, a=float(alpha) if alpha is not None else a)


def _points(xyz):
    return [Point(x=x, y=y, z=z) for x, y, z in np.asarray(xyz, dtype=np.float64).tolist()]


def _marker(header, style, marker_id, marker_type, color, scale):
    marker = Marker()
    marker.header = header
    marker.ns = style.namespace
    marker.id = marker_id
    marker.type = marker_type
    marker.action = Marker.ADD
    marker.pose.orientation.w = 1.0
    marker.scale.x, marker.scale.y, marker.scale.z = scale
    marker.color = color
    marker.lifetime = _duration(style.lifetime)
    return marker


def delete_all_marker(header, namespace=MarkerStyle.namespace):
    """Return a DELETEALL marker for ``namespace`` (clears the previous frame's hands)."""
    marker = Marker()
    marker.header = header
    marker.ns = namespace
    marker.action = Marker.DELETEALL
    return marker


def clear_markers(header, namespace=MarkerStyle.namespace):
    """Return a MarkerArray that only removes the hands drawn so far (node stopping)."""
    return MarkerArray(markers=[delete_all_marker(header, namespace)])


def mesh_marker(vertices, faces, is_right, header, style, marker_id):
    """
    Return the TRIANGLE_LIST marker of one hand mesh, or None if it has non-finite vertices.

    ``faces`` are the MANO right-hand triangles; left hands get them reversed.
    """
    vertices = np.asarray(vertices, dtype=np.float64).reshape(-1, 3)
    faces = np.asarray(faces)
    if not np.isfinite(vertices).all() or faces.size == 0 or faces.max() >= len(vertices):
        return None
    if not is_right:
        faces = faces[:, [0, 2, 1]]
    color = style.right_color if is_right else style.left_color
    marker = _marker(header, style, marker_id, Marker.TRIANGLE_LIST,
                     _color(color, style.mesh_alpha), (1.0, 1.0, 1.0))
    # One Point per vertex, referenced by every triangle that uses it: 778 objects instead of
    # 4614 (serialization copies the values, so sharing them is harmless).
    vertex_points = _points(vertices)
    marker.points = [vertex_points[index] for index in faces.reshape(-1).tolist()]
    return marker


def skeleton_markers(keypoints_3d, is_right, header, style, first_id):
    """Return the LINE_LIST (bones) and SPHERE_LIST (joints) markers, or [] if non-finite."""
    joints = np.asarray(keypoints_3d, dtype=np.float64).reshape(-1, 3)
    if not np.isfinite(joints).all():
        return []
    color = _color(style.right_color if is_right else style.left_color)
    joint_points = _points(joints)
    bones = _marker(header, style, first_id, Marker.LINE_LIST, color,
                    (style.line_width, 0.0, 0.0))
    bones.points = [joint_points[index] for bone in BONES for index in bone]
    spheres = _marker(header, style, first_id + 1, Marker.SPHERE_LIST, color,
                      (style.joint_diameter,) * 3)
    spheres.points = joint_points
    return [bones, spheres]


def hand_markers(hands, header, faces=None, style=MarkerStyle()):
    """
    Build the MarkerArray of one frame: DELETEALL, then mesh, skeleton and joints per hand.

    The mesh is drawn for hands that have vertices when ``faces`` is given and
    ``style.mesh_alpha`` > 0. Parts with non-finite coordinates are left out.
    """
    array = MarkerArray()
    array.markers.append(delete_all_marker(header, style.namespace))
    for index, hand in enumerate(hands):
        first_id = MARKERS_PER_HAND * index
        if faces is not None and hand.vertices is not None and style.mesh_alpha > 0:
            mesh = mesh_marker(hand.vertices, faces, hand.is_right, header, style,
                               first_id + MESH)
            if mesh is not None:
                array.markers.append(mesh)
        array.markers.extend(skeleton_markers(hand.keypoints_3d, hand.is_right, header,
                                              style, first_id + SKELETON))
    return array
