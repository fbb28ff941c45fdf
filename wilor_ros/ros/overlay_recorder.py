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
Record wilor_node's debug_image topic to a video file and print a line per frame of hands.

The last step of the main command (scripts/run.sh): it is what makes the node's output visible
on a machine without a display. It stops when no frame has arrived for ``--idle`` seconds after
the first one (the source finished), or on Ctrl-C.
"""

import argparse
import time

import cv2
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from wilor_msgs.msg import Hand, HandArray

from wilor_ros.image_conversion import image_msg_to_bgr
from wilor_ros.skeleton import WRIST


def describe(msg):
    """One human-readable line for a HandArray."""
    parts = []
    for hand in msg.hands:
        side = 'right' if hand.side == Hand.RIGHT else 'left'
        wrist = hand.keypoints_3d[WRIST]
        label = f'{side}' + (f'#{hand.id}' if hand.id else '')
        parts.append(f'{label} {hand.score:.2f} wrist=({wrist.x:+.3f}, {wrist.y:+.3f}, '
                     f'{wrist.z:.3f}) m')
    stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
    return f'{stamp:.3f}: {len(msg.hands)} hand(s) ' + '; '.join(parts)


class OverlayRecorder:
    """Subscribe to debug_image and hands; write frames to a video file."""

    def __init__(self, node, output, fps):
        self._node = node
        self._output = output
        self._fps = fps
        self._writer = None
        self.frames = 0
        self.last_frame = None
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        node.create_subscription(Image, 'debug_image', self._on_image, qos)
        node.create_subscription(HandArray, 'hands', self._on_hands, qos)

    def _on_image(self, msg):
        try:
            frame = image_msg_to_bgr(msg)
        except ValueError as error:
            self._node.get_logger().warning(f'skipping a debug image: {error}')
            return
        if self._writer is None:
            height, width = frame.shape[:2]
            fourcc = cv2.VideoWriter_fourcc(*'mp4v')
            self._writer = cv2.VideoWriter(self._output, fourcc, self._fps, (width, height))
            if not self._writer.isOpened():
                raise RuntimeError(f'cannot write the video file {self._output}')
        self._writer.write(frame)
        self.frames += 1
        self.last_frame = time.monotonic()

    def _on_hands(self, msg):
        print(describe(msg), flush=True)

    def close(self):
        """Finish the video file."""
        if self._writer is not None:
            self._writer.release()


def main(argv=None):
    """Record until the stream stops or Ctrl-C."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--output', default='wilor_overlay.mp4', help='video file to write')
    parser.add_argument('--fps', type=float, default=15.0, help='frame rate of the video file')
    parser.add_argument('--idle', type=float, default=5.0,
                        help='stop after this many seconds without a frame (after the first)')
    args, ros_args = parser.parse_known_args(argv)
    rclpy.init(args=ros_args)
    node = rclpy.create_node('wilor_overlay_recorder')
    recorder = OverlayRecorder(node, args.output, args.fps)
    try:
        while rclpy.ok():
            rclpy.spin_once(node, timeout_sec=0.1)
            if recorder.last_frame and time.monotonic() - recorder.last_frame > args.idle:
                break
    except KeyboardInterrupt:
        pass
    finally:
        recorder.close()
        print(f'[overlay] {recorder.frames} frame(s) written to {args.output}', flush=True)
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == '__main__':
    main()
