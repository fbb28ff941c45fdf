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
on a machine without a display. Every debug image is written once (a frame sent again with the
same stamp is written once), at the frame rate of the images' stamps unless ``--fps`` is given:
with a paced ``wilor_source`` the stamps are the video's own times, so the overlay plays at the
source's rate however slowly the frames were processed.

It records until SIGINT / SIGTERM (or ``--idle`` seconds without a frame), then drains: it
keeps receiving until every HandArray seen has its debug image (at most ``--drain`` seconds),
finishes the file and exits with status 0; 1 when the file cannot be written.
"""

import argparse
import pathlib
import signal
import statistics
import sys
import time

import cv2
import rclpy
from rclpy.qos import QoSProfile, ReliabilityPolicy
from rclpy.signals import SignalHandlerOptions
from sensor_msgs.msg import Image
from wilor_msgs.msg import Hand, HandArray

from wilor_ros.image_conversion import image_msg_to_bgr
from wilor_ros.skeleton import WRIST
from wilor_ros.stamps import NANOSECONDS_PER_SECOND, stamp_nanoseconds, stamp_seconds

# Frames held back to measure the frame rate from their stamps (when --fps is not given).
RATE_SAMPLES = 6
FALLBACK_FPS = 30.0
# After the stop request, how long no message may arrive before the drain ends.
QUIET = 0.5


class RecorderError(RuntimeError):
    """The video file cannot be written; the message says which."""


def stamp_of(msg):
    """Return the header stamp as an integer key (nanoseconds)."""
    return stamp_nanoseconds(msg.header.stamp)


def describe(msg):
    """One human-readable line for a HandArray."""
    parts = []
    for hand in msg.hands:
        side = 'right' if hand.side == Hand.RIGHT else 'left'
        wrist = hand.keypoints_3d[WRIST]
        label = f'{side}' + (f'#{hand.id}' if hand.id else '')
        parts.append(f'{label} {hand.score:.2f} wrist=({wrist.x:+.3f}, {wrist.y:+.3f}, '
                     f'{wrist.z:.3f}) m')
    return f'{stamp_seconds(msg.header.stamp):.3f}: {len(msg.hands)} hand(s) ' + '; '.join(parts)


def rate_from_stamps(stamps):
    """Return frames per second from the median interval of sorted stamps (ns), or None."""
    intervals = [b - a for a, b in zip(stamps, stamps[1:]) if b > a]
    if not intervals:
        return None
    return round(NANOSECONDS_PER_SECOND / statistics.median(intervals), 3)


class OverlayRecorder:
    """Subscribe to debug_image and hands; write each frame once to a video file."""

    def __init__(self, node, output, fps=0.0):
        """Record into ``output``; ``fps`` 0: the rate of the image stamps."""
        self._node = node
        self._output = output
        self.fps = fps
        self._writer = None
        self._held = []
        self._image_stamps = set()
        self._hands_stamps = set()
        self.frames = 0
        self.last_message = None
        qos = QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE)
        self._images = node.create_subscription(Image, 'debug_image', self._on_image, qos)
        self._hands = node.create_subscription(HandArray, 'hands', self._on_hands, qos)

    def _on_image(self, msg):
        self.last_message = time.monotonic()
        stamp = stamp_of(msg)
        if stamp in self._image_stamps:
            return   # the same frame processed again (a paced source sent it twice)
        try:
            frame = image_msg_to_bgr(msg)
        except ValueError as error:
            self._node.get_logger().warning(f'skipping a debug image: {error}')
            return
        self._image_stamps.add(stamp)
        if self._writer is None:
            self._held.append((stamp, frame))
            if self.fps <= 0 and len(self._held) < RATE_SAMPLES:
                return
            self._open()
        else:
            self._write(frame)

    def _on_hands(self, msg):
        self.last_message = time.monotonic()
        self._hands_stamps.add(stamp_of(msg))
        print(describe(msg), flush=True)

    def _open(self):
        if self.fps <= 0:
            self.fps = rate_from_stamps(sorted(s for s, _ in self._held)) or FALLBACK_FPS
        height, width = self._held[0][1].shape[:2]
        self._size = (width, height)
        output = pathlib.Path(self._output)
        try:
            output.parent.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            self._held = []
            raise RecorderError(f'cannot create the folder of {output}: {error}') from None
        self._writer = cv2.VideoWriter(str(output), cv2.VideoWriter_fourcc(*'mp4v'), self.fps,
                                       (width, height))
        if not self._writer.isOpened():
            self._writer = None
            self._held = []
            raise RecorderError(f'cannot write the video file {output}')
        for _, frame in sorted(self._held, key=lambda item: item[0]):
            self._write(frame)
        self._held = []

    def _write(self, frame):
        if (frame.shape[1], frame.shape[0]) != self._size:
            frame = cv2.resize(frame, self._size)
        self._writer.write(frame)
        self.frames += 1

    def producer_alive(self):
        """Return True while something publishes the debug images."""
        return self._node.count_publishers(self._images.topic_name) > 0

    def connected(self):
        """Return True once both debug_image and hands have a publisher."""
        return self.producer_alive() and self._node.count_publishers(self._hands.topic_name) > 0

    def drained(self):
        """Return True when every HandArray seen so far has its debug image."""
        return self._hands_stamps <= self._image_stamps

    def close(self):
        """Write the frames held back and finish the video file."""
        if self._held:
            self._open()
        if self._writer is not None:
            self._writer.release()


def main(argv=None):
    """Record until SIGINT / SIGTERM (or idle), drain, finish the file; return the status."""
    parser = argparse.ArgumentParser(description=__doc__.strip().splitlines()[0])
    parser.add_argument('--output', default='wilor_overlay.mp4', help='video file to write')
    parser.add_argument('--fps', type=float, default=0.0,
                        help='frame rate of the video file; 0: the rate of the image stamps')
    parser.add_argument('--idle', type=float, default=0.0,
                        help='also stop after this many seconds without a frame (after the '
                             'first); 0: only on SIGINT / SIGTERM')
    parser.add_argument('--drain', type=float, default=10.0,
                        help='seconds at most to wait for the debug images of hands received')
    parser.add_argument('--ready-file', type=pathlib.Path,
                        help='create this file once debug_image and hands have a publisher, so '
                             'that a script starts the source only then (a reliable message '
                             'sent before the recorder is matched is lost to it)')
    args, ros_args = parser.parse_known_args(argv)
    # Own signal handling: rclpy's would shut the context down before the drain.
    stop = []
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda number, _: stop.append(number))
    rclpy.init(args=ros_args, signal_handler_options=SignalHandlerOptions.NO)
    node = rclpy.create_node('wilor_overlay_recorder')
    recorder = OverlayRecorder(node, args.output, args.fps)
    status = 0
    ready = args.ready_file
    try:
        while not stop:
            rclpy.spin_once(node, timeout_sec=0.1)
            if ready is not None and recorder.connected():
                try:
                    ready.touch()
                except OSError as error:
                    node.get_logger().error(f'cannot create the ready file {ready}: {error}')
                ready = None
            if (args.idle > 0 and recorder.last_message
                    and time.monotonic() - recorder.last_message > args.idle):
                break
        deadline = time.monotonic() + args.drain
        while time.monotonic() < deadline and not (
                recorder.drained() and time.monotonic() - (recorder.last_message or 0) > QUIET):
            if not recorder.producer_alive():
                break   # wilor_node stopped as well: no debug image will come
            rclpy.spin_once(node, timeout_sec=0.05)
    except RecorderError as error:
        node.get_logger().error(str(error))
        status = 1
    finally:
        try:
            recorder.close()
        except RecorderError as error:
            node.get_logger().error(str(error))
            status = 1
        rate = f' at {recorder.fps:g} fps' if recorder.frames else ''
        print(f'[overlay] {recorder.frames} frame(s) written to {args.output}{rate}', flush=True)
        node.destroy_node()
        rclpy.try_shutdown()
    return status


if __name__ == '__main__':
    sys.exit(main())
