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
An RGB-D camera and a TF listener for the wilor_node RGB-D tests, in one process.

Publishes colour (bgr8, sensor data), aligned depth (16UC1 mm, sensor data, topic
depth_image) and camera_info (reliable) with one stamp, and records what the node sends back:
``hands``, ``hands_raw`` (wilor_msgs/HandArray) and ``/tf`` (tf2_msgs/TFMessage, subscribed
with a tf2 listener's QoS: reliable, volatile, keep last 100), plus /diagnostics.
Reads one JSON command per line on stdin, answers each with one line {"reply": ...}:

* wait_match: wait until the node subscribes to image and depth_image and publishes hands,
  hands_raw and /tf.
* frame {stamp, image, depth, fx, timeout}: ``image`` / ``depth``: .npy paths (BGR uint8 /
  float32 metres, or null for no depth); returns hands, hands_raw and tf for that stamp.
* diagnostics {timeout}: the values of the first wilor_node status stamped afterwards (the
  node stamps before reading its counters; a status received afterwards may be older).
"""

import threading
import time

from command_loop import serve
from diagnostic_msgs.msg import DiagnosticArray
from image_qos import image_qos
import numpy as np
import rclpy
from rclpy.duration import Duration
from rclpy.qos import DurabilityPolicy, HistoryPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, Image
from tf2_msgs.msg import TFMessage
from wilor_msgs.msg import HandArray

from wilor_ros.ros.stamped_messages import stamp_nanoseconds

TF_QOS = QoSProfile(depth=100, history=HistoryPolicy.KEEP_LAST,
                    reliability=ReliabilityPolicy.RELIABLE,
                    durability=DurabilityPolicy.VOLATILE)


def key(stamp):
    return [int(stamp.sec), int(stamp.nanosec)]


def hand_summary(hand):
    return {'id': hand.id, 'side': int(hand.side),
            'translation_source': int(hand.translation_source),
            'depth_scale': float(hand.depth_scale), 'depth_inliers': int(hand.depth_inliers),
            'depth_inlier_ratio': float(hand.depth_inlier_ratio),
            'cam_t': [hand.cam_t.x, hand.cam_t.y, hand.cam_t.z],
            'wrist': [hand.keypoints_3d[0].x, hand.keypoints_3d[0].y, hand.keypoints_3d[0].z],
            'global_orient': [float(v) for v in hand.global_orient],
            'keypoint_confidence': [float(v) for v in hand.keypoint_confidence]}


class Client:

    def __init__(self, node):
        self.node = node
        self.lock = threading.Lock()
        self.received = {'hands': {}, 'hands_raw': {}, 'tf': {}}
        self.diagnostics = []
        self.image_pub = node.create_publisher(Image, 'image', image_qos())
        self.depth_pub = node.create_publisher(Image, 'depth_image', image_qos())
        self.info_pub = node.create_publisher(
            CameraInfo, 'camera_info', QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        reliable = QoSProfile(depth=10, reliability=ReliabilityPolicy.RELIABLE)
        self.subscriptions = [
            node.create_subscription(HandArray, topic, self._hands(topic), reliable)
            for topic in ('hands', 'hands_raw')]
        self.subscriptions.append(node.create_subscription(TFMessage, '/tf', self._tf, TF_QOS))
        self.subscriptions.append(node.create_subscription(
            DiagnosticArray, '/diagnostics', self._diagnostics, reliable))

    def _hands(self, topic):
        def store(msg):
            with self.lock:
                self.received[topic][tuple(key(msg.header.stamp))] = {
                    'frame_id': msg.header.frame_id,
                    'hands': [hand_summary(hand) for hand in msg.hands]}
        return store

    def _tf(self, msg):
        with self.lock:
            for transform in msg.transforms:
                t, r = transform.transform.translation, transform.transform.rotation
                self.received['tf'].setdefault(tuple(key(transform.header.stamp)), []).append({
                    'parent': transform.header.frame_id, 'child': transform.child_frame_id,
                    'translation': [t.x, t.y, t.z], 'rotation': [r.x, r.y, r.z, r.w]})

    def _diagnostics(self, msg):
        with self.lock:
            stamp = stamp_nanoseconds(msg.header.stamp)
            for status in msg.status:
                if 'wilor_node' in status.name:
                    self.diagnostics.append((stamp, {v.key: v.value for v in status.values}))
            del self.diagnostics[:-50]

    def wait_match(self, command):
        deadline = time.monotonic() + command.get('timeout', 30.0)
        while time.monotonic() < deadline:
            counts = [self.image_pub.get_subscription_count(),
                      self.depth_pub.get_subscription_count(),
                      self.info_pub.get_subscription_count(),
                      *[s.get_publisher_count() for s in self.subscriptions[:3]]]
            if min(counts) > 0:
                return {'matched': True}
            time.sleep(0.05)
        return {'matched': False, 'counts': counts}

    def frame(self, command):
        stamp = command['stamp']
        image = np.load(command['image'])
        height, width = image.shape[:2]
        info = CameraInfo(width=width, height=height)
        fx = float(command['fx'])
        info.k = [fx, 0.0, (width - 1) / 2.0, 0.0, fx, (height - 1) / 2.0, 0.0, 0.0, 1.0]
        msgs = [(self.info_pub, info)]
        if command.get('depth'):
            metres = np.load(command['depth'])
            millimetres = np.where(np.isfinite(metres), np.rint(metres * 1000), 0)
            depth = Image(height=height, width=width, encoding='16UC1', step=width * 2)
            depth.data = millimetres.astype('<u2').tobytes()
            msgs.append((self.depth_pub, depth))
        colour = Image(height=height, width=width, encoding='bgr8', step=width * 3)
        colour.data = np.ascontiguousarray(image).tobytes()
        msgs.append((self.image_pub, colour))
        for publisher, msg in msgs:
            msg.header.stamp.sec, msg.header.stamp.nanosec = stamp
            msg.header.frame_id = 'cam_optical'
            publisher.publish(msg)
            if publisher is not self.image_pub:
                # camera_info and depth before the image, as drivers do: reliable readers
                # acknowledge them first (best-effort ones return at once).
                publisher.wait_for_all_acked(Duration(seconds=5.0))
        wanted = ['hands', 'hands_raw'] + (['tf'] if command.get('expect_tf', True) else [])
        deadline = time.monotonic() + command.get('timeout', 20.0)
        while time.monotonic() < deadline:
            with self.lock:
                found = {what: self.received[what].get(tuple(stamp)) for what in wanted}
            if all(value is not None for value in found.values()):
                return found
            time.sleep(0.02)
        return {'timeout': True, 'found': [w for w, v in found.items() if v is not None]}

    def diagnostics_values(self, command):
        asked = time.time_ns()  # the node's clock is the system clock on this machine
        deadline = time.monotonic() + command.get('timeout', 10.0)
        while time.monotonic() < deadline:
            with self.lock:
                if self.diagnostics and self.diagnostics[-1][0] > asked:
                    return self.diagnostics[-1][1]
            time.sleep(0.05)
        return {'timeout': True}


def main():
    rclpy.init()
    node = rclpy.create_node('rgbd_client')
    client = Client(node)
    handlers = {'wait_match': client.wait_match, 'frame': client.frame,
                'diagnostics': client.diagnostics_values}
    serve(node, handlers.__getitem__)


if __name__ == '__main__':
    main()
