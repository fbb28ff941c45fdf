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
A scripted camera for the wilor_node tests: publishes the detector fixture image on command.

Reads one JSON command per line on stdin and answers each with one line {"reply": ...}.
Images go out with sensor-data QoS (as camera drivers publish; see image_qos.py),
camera_info reliable.
Commands (``stamp`` is [sec, nanosec]; topics are relative names, default 'image'):

* wait_match {topic, compressed}: wait until a subscriber (the node) matches the topic.
* frame {stamp, encoding, fx, fy, k_zero, info_size, frame_id, topic, info_topic, size}:
  publish camera_info (when ``fx`` is given or ``k_zero``; fx may be NaN, 0, negative...)
  and then the image, the fixture image resized to ``size`` [width, height] when given
  (nearest neighbour; encodings rgb8, bgr8, bgra8).
* bad {kind, stamp, topic}: publish a malformed image: step, short, encoding, empty, huge,
  or garbage (a CompressedImage that does not decode).
* compressed {stamp, topic}: publish the image as a JPEG CompressedImage.
* flood {rate, seconds, first_sec, topic}: publish bgr8 frames at ``rate`` Hz.
"""

import pathlib
import time

from command_loop import serve_object
import cv2
from graph_waits import matched_within
from image_qos import image_qos
import numpy as np
from rclpy.duration import Duration
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import CameraInfo, CompressedImage, Image

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / 'fixtures' / 'a'


class Camera:

    def __init__(self, node):
        self.node = node
        self.image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
        self.publishers = {}

    def publisher(self, msg_type, topic):
        key = (msg_type, topic)
        if key not in self.publishers:
            qos = (QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
                   if msg_type is CameraInfo else image_qos())
            publisher = self.node.create_publisher(msg_type, topic, qos)
            # A sample sent before discovery matched the node is lost (camera_info is sent
            # once per frame here), so a new publisher first waits for its subscriber.
            matched_within(publisher.get_subscription_count, 10.0)
            self.publishers[key] = publisher
        return self.publishers[key]

    @staticmethod
    def header_of(msg, command):
        sec, nanosec = command.get('stamp', [0, 0])
        msg.header.stamp.sec, msg.header.stamp.nanosec = int(sec), int(nanosec)
        msg.header.frame_id = command.get('frame_id', 'cam_optical')
        return msg

    def pixels(self, size=None):
        if size is None:
            return self.image
        return cv2.resize(self.image, tuple(int(v) for v in size),
                          interpolation=cv2.INTER_NEAREST)

    def image_msg(self, encoding, size=None):
        pixels = self.pixels(size)
        if encoding == 'rgb8':
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2RGB)
        elif encoding == 'bgra8':
            pixels = cv2.cvtColor(pixels, cv2.COLOR_BGR2BGRA)
        elif encoding != 'bgr8':
            raise ValueError(f'node_camera cannot encode {encoding}')
        height, width = pixels.shape[:2]
        msg = Image(height=height, width=width, encoding=encoding,
                    step=width * pixels.shape[2])
        msg.data = pixels.tobytes()
        return msg

    def wait_match(self, command):
        msg_type = CompressedImage if command.get('compressed') else Image
        publisher = self.publisher(msg_type, command.get('topic', 'image'))
        return {'matched': matched_within(publisher.get_subscription_count,
                                          command.get('timeout', 20.0))}

    def frame(self, command):
        width, height = command.get('size') or self.image.shape[1::-1]
        if command.get('fx') is not None or command.get('k_zero'):
            info = self.header_of(CameraInfo(), command)
            info.width, info.height = command.get('info_size') or (width, height)
            if command.get('k_zero'):
                info.k = [0.0] * 9
            else:
                fx = float(command['fx'])
                fy = float(command.get('fy') or fx)
                info.k = [fx, 0.0, (width - 1) / 2.0, 0.0, fy, (height - 1) / 2.0, 0.0, 0.0, 1.0]
            publisher = self.publisher(CameraInfo, command.get('info_topic', 'camera_info'))
            publisher.publish(info)
            # Received before the image when the node reads camera_info reliably (a reliable
            # reader acknowledges it; with a best-effort reader this returns at once).
            publisher.wait_for_all_acked(Duration(seconds=5.0))
        msg = self.header_of(self.image_msg(command.get('encoding', 'rgb8'),
                                            command.get('size')), command)
        self.publisher(Image, command.get('topic', 'image')).publish(msg)
        return {'published': 1}

    def bad(self, command):
        kind = command['kind']
        if kind == 'garbage':
            msg = self.header_of(CompressedImage(format='jpeg'), command)
            msg.data = b'\xff\xd8 definitely not a jpeg ' * 20
            self.publisher(CompressedImage, command.get('topic', 'image')).publish(msg)
            return {'published': 1}
        msg = self.header_of(self.image_msg('bgr8'), command)
        if kind == 'step':
            msg.step = msg.width * 3 - 1
        elif kind == 'short':
            msg.data = bytes(msg.data)[:len(msg.data) // 2]
        elif kind == 'encoding':
            msg.encoding = '32FC7'
        elif kind == 'empty':
            msg.height = msg.width = msg.step = 0
            msg.data = b''
        elif kind == 'huge':
            # Claims 50000 x 50000 pixels (7.5 GB) with a few bytes of data.
            msg.height = msg.width = 50000
            msg.step = 150000
            msg.data = bytes(1024)
        else:
            raise ValueError(f'unknown bad kind {kind}')
        self.publisher(Image, command.get('topic', 'image')).publish(msg)
        return {'published': 1}

    def compressed(self, command):
        msg = self.header_of(CompressedImage(format='bgr8; jpeg compressed bgr8'), command)
        msg.data = cv2.imencode('.jpg', self.image, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()
        self.publisher(CompressedImage, command.get('topic', 'image')).publish(msg)
        return {'published': 1}

    def flood(self, command):
        rate, seconds = float(command['rate']), float(command['seconds'])
        publisher = self.publisher(Image, command.get('topic', 'image'))
        template = self.image_msg('bgr8')
        count = int(round(rate * seconds))
        start = time.monotonic()
        for index in range(count):
            msg = Image(height=template.height, width=template.width, encoding='bgr8',
                        step=template.step, data=template.data)
            self.header_of(msg, {'stamp': [command['first_sec'] + index, 0]})
            publisher.publish(msg)
            time.sleep(max(0.0, start + (index + 1) / rate - time.monotonic()))
        return {'published': count, 'seconds': time.monotonic() - start}


def main():
    serve_object('node_camera', Camera)


if __name__ == '__main__':
    main()
