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
Soak of wilor_node: thousands of camera frames at camera rate, memory and latency over time.

wilor_node runs in its own process (fixture weights by default, or ``--detector`` /
``--reconstructor``); this process is the camera (the detector fixture image, bgr8 640x480,
sensor-data QoS, stamped with the wall clock) and the consumer of ``hands`` and
``/diagnostics``. Every ``--fault-every`` frames comes a burst of ``--fault-burst`` bad
frames (alternately images with short data and images whose camera_info has fx = NaN; every
other image comes with a good camera_info of its own stamp), so the error paths soak too: the
node only handles the newest frame when it is free, so a single bad frame would mostly be
dropped unseen. DDS runs under the project's network rule (``test/ros_harness.py``
``ros_env()``: localhost discovery, a private domain id, the shipped Fast DDS profile).

Printed at the end:

* frames published and the rate achieved; received, processed, dropped (replaced by a newer
  frame before the worker took it) and error counts, from the node's diagnostics;
* latest-frame age: for every HandArray received, wall clock now minus the stamp of the image
  it answers (the age of the newest result a consumer holds), p50 / p95 / max;
* node RSS after the warm-up frames and at the end, and the growth between them; the run fails
  (exit status 1) when the growth exceeds ``--max-growth-mb`` or the node stops answering.

Run: ``python bench/bench_soak.py [--frames 10000] [--rate 60] [--warmup 600]`` (10 000
frames at 60 Hz take about 3 minutes).
"""

import argparse
import os
import pathlib
import sys
import threading
import time

import numpy as np

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / 'test'))

from ros_harness import ros_env, RosProcess  # noqa: E402  (the test harness owns the env)

FIXTURES = REPO / 'test' / 'fixtures' / 'a'


def rss_bytes(pid):
    """Resident set size of process ``pid`` in bytes (Linux)."""
    with open(f'/proc/{pid}/status') as status:
        for line in status:
            if line.startswith('VmRSS:'):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f'no VmRSS for process {pid}')


class Consumer:
    """Records the age of every HandArray and the node's latest diagnostics values."""

    def __init__(self, node):
        from diagnostic_msgs.msg import DiagnosticArray
        from rclpy.qos import QoSProfile, ReliabilityPolicy
        from wilor_msgs.msg import HandArray

        self.lock = threading.Lock()
        self.ages = []
        self.diagnostics = {}
        self.diagnostics_count = 0
        reliable = QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE)
        self.hands_sub = node.create_subscription(HandArray, 'hands', self.on_hands, reliable)
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics,
                                 reliable)

    def on_hands(self, msg):
        now = time.time()
        stamp = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9
        with self.lock:
            self.ages.append(now - stamp)

    def on_diagnostics(self, msg):
        for status in msg.status:
            if status.name.startswith('wilor_node:'):
                with self.lock:
                    self.diagnostics = {kv.key: kv.value for kv in status.values}
                    self.diagnostics_count += 1

    def snapshot(self):
        with self.lock:
            return list(self.ages), dict(self.diagnostics), self.diagnostics_count


class Camera:
    """Publishes the fixture image (and camera_info, and now and then bad input)."""

    def __init__(self, node, fault_every, fault_burst):
        from builtin_interfaces.msg import Time
        from rclpy.qos import qos_profile_sensor_data, QoSProfile, ReliabilityPolicy
        from sensor_msgs.msg import CameraInfo, Image

        self.image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
        height, width = self.image.shape[:2]
        self.Image, self.CameraInfo, self.Time = Image, CameraInfo, Time
        self.template = Image(height=height, width=width, encoding='bgr8', step=width * 3,
                              data=self.image.tobytes())
        self.image_pub = node.create_publisher(Image, 'image', qos_profile_sensor_data)
        self.info_pub = node.create_publisher(
            CameraInfo, 'camera_info', QoSProfile(depth=5, reliability=ReliabilityPolicy.RELIABLE))
        self.fault_every = fault_every
        self.fault_burst = min(fault_burst, fault_every)
        self.faults = 0

    def info(self, stamp, fx):
        height, width = self.image.shape[:2]
        info = self.CameraInfo(width=width, height=height)
        info.header.stamp, info.header.frame_id = stamp, 'cam_optical'
        info.k = [fx, 0.0, (width - 1) / 2, 0.0, fx, (height - 1) / 2, 0.0, 0.0, 1.0]
        return info

    def publish(self, index):
        now = time.time()
        stamp = self.Time(sec=int(now), nanosec=int((now % 1.0) * 1e9))
        burst = index // self.fault_every if self.fault_every else 0
        fault = bool(self.fault_every) and (index % self.fault_every
                                            >= self.fault_every - self.fault_burst)
        self.faults += fault
        if fault and burst % 2:
            msg = self.Image(height=self.template.height, width=self.template.width,
                             encoding='bgr8', step=self.template.step,
                             data=self.template.data[:len(self.template.data) // 2])
        else:
            msg = self.Image(height=self.template.height, width=self.template.width,
                             encoding='bgr8', step=self.template.step, data=self.template.data)
            # As camera drivers do: one camera_info per image, with the image's stamp.
            self.info_pub.publish(self.info(stamp, float('nan') if fault else 600.0))
        msg.header.stamp, msg.header.frame_id = stamp, 'cam_optical'
        self.image_pub.publish(msg)


def wait_for(predicate, timeout, what):
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise RuntimeError(f'timed out after {timeout} s waiting for {what}')
        time.sleep(0.05)


def percentile(values, q):
    return float(np.percentile(values, q)) if len(values) else float('nan')


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    parser.add_argument('--frames', type=int, default=10000)
    parser.add_argument('--rate', type=float, default=60.0, help='camera rate, Hz')
    parser.add_argument('--warmup', type=int, default=600,
                        help='frames before the reference RSS is taken')
    parser.add_argument('--fault-every', type=int, default=500,
                        help='a burst of bad input every this many frames (0: none)')
    parser.add_argument('--fault-burst', type=int, default=30,
                        help='bad frames in a row in each burst')
    parser.add_argument('--max-growth-mb', type=float, default=50.0)
    parser.add_argument('--detector', default=str(FIXTURES / 'detector' / 'detector.pt'))
    parser.add_argument('--reconstructor', default=str(FIXTURES / 'wilor' / 'checkpoint.ckpt'))
    parser.add_argument('--device', default='cpu')
    args = parser.parse_args()

    env = ros_env()
    os.environ.update(env)  # the network rule for this process's DDS participant too
    os.environ.pop('ROS_LOCALHOST_ONLY', None)
    import rclpy
    from rclpy.executors import SingleThreadedExecutor

    node_process = RosProcess(['-m', 'wilor_ros.ros.wilor_node', '--ros-args',
                               '-p', 'autostart:=true', '-p', f'detector_path:={args.detector}',
                               '-p', f'reconstructor_path:={args.reconstructor}',
                               '-p', f'device:={args.device}',
                               '-p', 'detection.confidence:=0.25'], env)
    rclpy.init()
    node = rclpy.create_node('bench_soak')
    consumer = Consumer(node)
    camera = Camera(node, args.fault_every, args.fault_burst)
    executor = SingleThreadedExecutor()
    executor.add_node(node)
    spinner = threading.Thread(target=executor.spin, daemon=True)
    spinner.start()
    status = 0
    try:
        node_process.wait_for_line(lambda line: 'waiting for images' in line, timeout=120)
        wait_for(lambda: camera.image_pub.get_subscription_count() > 0
                 and consumer.hands_sub.get_publisher_count() > 0, 30, 'the node to match')
        print(f'soak: {args.frames} frames at {args.rate:g} Hz into wilor_node '
              f'(pid {node_process.proc.pid}, {args.device}); ROS_DOMAIN_ID '
              f'{env["ROS_DOMAIN_ID"]}', flush=True)
        start = time.monotonic()
        rss_warm = None
        rss_samples = []
        ages_at_warmup = 0
        for index in range(args.frames):
            camera.publish(index)
            if index == args.warmup:
                rss_warm = rss_bytes(node_process.proc.pid)
                ages_at_warmup = len(consumer.snapshot()[0])
            if index % int(args.rate) == 0:
                rss_samples.append(rss_bytes(node_process.proc.pid))
                if node_process.proc.poll() is not None:
                    raise RuntimeError(f'the node exited:\n{node_process.output}')
            if index and index % (10 * int(args.rate)) == 0:
                ages, values, _ = consumer.snapshot()
                print(f'  {index:6d} frames, {len(ages)} hand arrays, node RSS '
                      f'{rss_samples[-1] / 1e6:.0f} MB, processed '
                      f'{values.get("frames_processed", "?")}, dropped '
                      f'{values.get("frames_dropped", "?")}', flush=True)
            time.sleep(max(0.0, start + (index + 1) / args.rate - time.monotonic()))
        elapsed = time.monotonic() - start
        # Final counters: two diagnostics messages after the last frame was handled.
        time.sleep(1.0)
        seen = consumer.snapshot()[2]
        wait_for(lambda: consumer.snapshot()[2] >= seen + 2, 10, 'the final diagnostics')
        rss_end = rss_bytes(node_process.proc.pid)
        ages, values, _ = consumer.snapshot()
        steady = np.array(ages[ages_at_warmup:]) * 1000.0
        errors = {key: value for key, value in values.items() if key.startswith('errors.')}
        growth = (rss_end - (rss_warm or rss_samples[0])) / 1e6
        print(f'machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[1]:.1f} '
              '(5 min)')
        print(f'published: {args.frames} frames in {elapsed:.1f} s '
              f'({args.frames / elapsed:.1f} Hz), {camera.faults} of them bad input')
        print(f'node: received {values.get("frames_received")}, processed '
              f'{values.get("frames_processed")}, dropped {values.get("frames_dropped")}, '
              f'errors {errors}')
        print(f'hand arrays received: {len(ages)} ({len(ages) / elapsed:.1f} Hz)')
        print(f'latest-frame age after warm-up (ms): p50 {percentile(steady, 50):.0f}, '
              f'p95 {percentile(steady, 95):.0f}, max {percentile(steady, 100):.0f}')
        print(f'node RSS: {(rss_warm or rss_samples[0]) / 1e6:.0f} MB after {args.warmup} '
              f'frames, {rss_end / 1e6:.0f} MB at the end, max {max(rss_samples) / 1e6:.0f} '
              f'MB; growth {growth:+.1f} MB (budget {args.max_growth_mb:g} MB)')
        if growth > args.max_growth_mb:
            print('FAIL: memory grew beyond the budget')
            status = 1
        if not len(steady):
            print('FAIL: no hand arrays after the warm-up')
            status = 1
    finally:
        executor.shutdown(timeout_sec=5.0)
        node.destroy_node()
        rclpy.try_shutdown()
        node_process.stop()
    return status


if __name__ == '__main__':
    sys.exit(main())
