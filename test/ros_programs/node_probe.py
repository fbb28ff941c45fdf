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
A scripted observer of wilor_node for the tests: records its outputs, sets its parameters.

Reads one JSON command per line on stdin and answers each with one line {"reply": ...}. The
node is spun in a background thread, so messages are recorded while a command waits.
Messages are summarised as they arrive (keyed by header stamp) instead of being kept.
Commands (``ns``: namespace of the node's topics, default ''; ``stamp``: [sec, nanosec]):

* wait_publisher {ns}: wait until the node's ``hands`` publisher matches.
* hands / markers / debug_image {stamp, ns, timeout}: the summary of that output for the
  image with that stamp, or {"timeout": true}.
* subscribe / unsubscribe {what: markers | debug_image, ns}.
* count {what, ns}: how many messages of that output arrived so far.
* diagnostics {node, timeout}: the first /diagnostics status of ``node`` stamped after the
  command (the node stamps a status before reading its counters, so it counts everything the
  node did before the command; one merely received after it may be older).
* set_params {node, params: {name: value}}: SetParameters results [{successful, reason}].
* get_params {node, names}: current values.
* mano_faces {ns, timeout}: subscribe late (transient local) and summarise the faces.
* transition {node, transition: configure | activate | deactivate | cleanup |
  unconfigured_shutdown | inactive_shutdown | active_shutdown}:
  lifecycle ChangeState; {success}.
* state {node}: lifecycle GetState; {state: label}.
"""

import math
import pathlib
import threading
import time

from command_loop import serve
from diagnostic_msgs.msg import DiagnosticArray
from graph_waits import matched_within
from image_qos import image_qos
import numpy as np
from rcl_interfaces.srv import GetParameters, SetParameters
import rclpy
from rclpy.parameter import Parameter, parameter_value_to_python
from rclpy.qos import DurabilityPolicy, QoSProfile, ReliabilityPolicy
from sensor_msgs.msg import Image
from visualization_msgs.msg import MarkerArray
from wilor_msgs.msg import HandArray, MeshFaces

from wilor_ros.ros.stamped_messages import stamp_nanoseconds

FIXTURES = pathlib.Path(__file__).resolve().parent.parent / 'fixtures' / 'a'
TYPES = {'hands': HandArray, 'markers': MarkerArray, 'debug_image': Image}


def stamp_key(msg):
    # A MarkerArray has no header of its own: its markers carry the image's.
    header = msg.markers[0].header if isinstance(msg, MarkerArray) else msg.header
    return f'{header.stamp.sec}.{header.stamp.nanosec}'


def header_summary(header):
    return {'stamp': [header.stamp.sec, header.stamp.nanosec], 'frame_id': header.frame_id}


def all_finite(value):
    """Tell whether every floating-point number in a message (nested ones too) is finite."""
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, np.ndarray):
        return not np.issubdtype(value.dtype, np.inexact) or bool(np.isfinite(value).all())
    if isinstance(value, (list, tuple)) or type(value).__name__ == 'array':
        return all(all_finite(item) for item in value)
    if hasattr(value, 'get_fields_and_field_types'):
        return all(all_finite(getattr(value, name))
                   for name in value.get_fields_and_field_types())
    return True


def summarise_hands(msg):
    return dict(header_summary(msg.header), hands=[{
        'side': int(hand.side), 'id': hand.id, 'score': float(hand.score),
        'bbox': [float(v) for v in hand.bbox],
        'cam_t': [hand.cam_t.x, hand.cam_t.y, hand.cam_t.z],
        'focal_length': [float(v) for v in hand.focal_length],
        'focal_source': int(hand.focal_source),
        'principal_point': [float(v) for v in hand.principal_point],
        'vertices': len(hand.vertices),
        'finite': all_finite(hand),
    } for hand in msg.hands])


def summarise_markers(msg):
    return {'markers': [dict(
        header_summary(marker.header), ns=marker.ns, id=marker.id, type=marker.type,
        action=marker.action, points=len(marker.points),
        scale=[marker.scale.x, marker.scale.y, marker.scale.z],
        finite=all(math.isfinite(v) for p in marker.points for v in (p.x, p.y, p.z)),
        alpha=marker.color.a, colors=len(marker.colors),
        lifetime=marker.lifetime.sec + marker.lifetime.nanosec * 1e-9)
        for marker in msg.markers]}


class Probe:

    def __init__(self, node):
        self.node = node
        self.condition = threading.Condition()
        self.records = {}
        self.counts = {}
        self.subscriptions = {}
        self.diagnostics = []
        self.image = np.load(FIXTURES / 'detector' / 'detect.npz')['image']
        node.create_subscription(DiagnosticArray, '/diagnostics', self.on_diagnostics,
                                 QoSProfile(depth=20, reliability=ReliabilityPolicy.RELIABLE))

    @staticmethod
    def topic(what, command):
        namespace = command.get('ns', '')
        return f'{namespace}/{what}' if namespace else what

    def summarise(self, what, msg):
        if what == 'hands':
            return summarise_hands(msg)
        if what == 'markers':
            return summarise_markers(msg)
        summary = dict(header_summary(msg.header), width=msg.width, height=msg.height,
                       encoding=msg.encoding)
        if (msg.height, msg.width) == self.image.shape[:2] and msg.encoding == 'bgr8':
            pixels = np.frombuffer(msg.data, np.uint8).reshape(self.image.shape)
            summary['changed_fraction'] = float(np.any(pixels != self.image, axis=2).mean())
        return summary

    def subscribe(self, command):
        what, topic = command['what'], self.topic(command['what'], command)
        if (what, topic) in self.subscriptions:
            return {'subscribed': topic}

        def record(msg):
            summary = self.summarise(what, msg)
            with self.condition:
                self.records[(what, topic, stamp_key(msg))] = summary
                self.counts[(what, topic)] = self.counts.get((what, topic), 0) + 1
                self.condition.notify_all()

        qos = (image_qos() if what == 'debug_image'
               else QoSProfile(depth=50, reliability=ReliabilityPolicy.RELIABLE))
        self.subscriptions[(what, topic)] = self.node.create_subscription(
            TYPES[what], topic, record, qos)
        return {'subscribed': topic}

    def unsubscribe(self, command):
        key = (command['what'], self.topic(command['what'], command))
        subscription = self.subscriptions.pop(key, None)
        if subscription is not None:
            self.node.destroy_subscription(subscription)
        return {'unsubscribed': key[1]}

    def wait_publisher(self, command):
        self.subscribe(dict(command, what='hands'))
        subscription = self.subscriptions[('hands', self.topic('hands', command))]
        return {'matched': matched_within(subscription.get_publisher_count,
                                          command.get('timeout', 30.0))}

    def wait_record(self, what, command):
        sec, nanosec = command['stamp']
        key = (what, self.topic(what, command), f'{sec}.{nanosec}')
        deadline = time.monotonic() + command.get('timeout', 10.0)
        with self.condition:
            while key not in self.records:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {'timeout': True}
                self.condition.wait(remaining)
            return self.records[key]

    def hands(self, command):
        return self.wait_record('hands', command)

    def markers(self, command):
        return self.wait_record('markers', command)

    def debug_image(self, command):
        return self.wait_record('debug_image', command)

    def count(self, command):
        with self.condition:
            return {'count': self.counts.get((command['what'],
                                              self.topic(command['what'], command)), 0)}

    def on_diagnostics(self, msg):
        with self.condition:
            stamp = stamp_nanoseconds(msg.header.stamp)
            for status in msg.status:
                self.diagnostics.append((stamp, status.name, {
                    'level': int.from_bytes(status.level, 'little')
                    if isinstance(status.level, bytes) else int(status.level),
                    'message': status.message,
                    'values': {kv.key: kv.value for kv in status.values}}))
            del self.diagnostics[:-50]
            self.condition.notify_all()

    def diagnostics_of(self, command):
        # The node's clock is the system clock (no sim time in these tests): same machine.
        asked = time.time_ns()
        prefix = f'{command.get("node", "wilor_node")}:'
        deadline = time.monotonic() + command.get('timeout', 10.0)
        with self.condition:
            while True:
                for stamp, name, status in self.diagnostics:
                    if stamp > asked and name.startswith(prefix):
                        return status
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return {'timeout': True}
                self.condition.wait(remaining)

    def mano_faces(self, command):
        received = []
        done = threading.Event()

        def record(msg):
            received.append({'num_vertices': msg.num_vertices, 'indices': len(msg.triangles),
                             'max_index': int(max(msg.triangles)),
                             'frame_id': msg.header.frame_id})
            done.set()

        latched = QoSProfile(depth=1, reliability=ReliabilityPolicy.RELIABLE,
                             durability=DurabilityPolicy.TRANSIENT_LOCAL)
        subscription = self.node.create_subscription(
            MeshFaces, self.topic('mano_faces', command), record, latched)
        try:
            return received[0] if done.wait(command.get('timeout', 10.0)) else {'timeout': True}
        finally:
            self.node.destroy_subscription(subscription)

    def call(self, service_type, name, request, timeout=10.0):
        client = self.node.create_client(service_type, name)
        try:
            if not client.wait_for_service(timeout_sec=timeout):
                raise RuntimeError(f'service {name} not available')
            done = threading.Event()
            future = client.call_async(request)
            future.add_done_callback(lambda _: done.set())
            if not done.wait(timeout):
                raise RuntimeError(f'no answer from {name} within {timeout} s')
            return future.result()
        finally:
            self.node.destroy_client(client)

    def set_params(self, command):
        request = SetParameters.Request()
        request.parameters = [Parameter(name, value=value).to_parameter_msg()
                              for name, value in command['params'].items()]
        start = time.monotonic()
        response = self.call(SetParameters, f'{command.get("node", "/wilor_node")}/set_parameters',
                             request)
        return {'results': [{'successful': r.successful, 'reason': r.reason}
                            for r in response.results],
                'seconds': time.monotonic() - start}

    def get_params(self, command):
        request = GetParameters.Request(names=command['names'])
        response = self.call(GetParameters, f'{command.get("node", "/wilor_node")}/get_parameters',
                             request)
        values = [parameter_value_to_python(value) for value in response.values]
        return {name: list(value) if hasattr(value, '__len__') and not isinstance(value, str)
                else value for name, value in zip(command['names'], values)}

    def transition(self, command):
        from lifecycle_msgs.msg import Transition
        from lifecycle_msgs.srv import ChangeState

        ids = {'configure': Transition.TRANSITION_CONFIGURE,
               'activate': Transition.TRANSITION_ACTIVATE,
               'deactivate': Transition.TRANSITION_DEACTIVATE,
               'cleanup': Transition.TRANSITION_CLEANUP,
               'unconfigured_shutdown': Transition.TRANSITION_UNCONFIGURED_SHUTDOWN,
               'inactive_shutdown': Transition.TRANSITION_INACTIVE_SHUTDOWN,
               'active_shutdown': Transition.TRANSITION_ACTIVE_SHUTDOWN}
        request = ChangeState.Request()
        request.transition.id = ids[command['transition']]
        response = self.call(ChangeState, f'{command.get("node", "/wilor_node")}/change_state',
                             request, timeout=command.get('timeout', 60.0))
        return {'success': bool(response.success)}

    def state(self, command):
        from lifecycle_msgs.srv import GetState

        response = self.call(GetState, f'{command.get("node", "/wilor_node")}/get_state',
                             GetState.Request())
        return {'state': response.current_state.label}


def main():
    rclpy.init()
    node = rclpy.create_node('node_probe')
    probe = Probe(node)
    handlers = {'diagnostics': probe.diagnostics_of}
    serve(node, lambda name: handlers.get(name) or getattr(probe, name))


if __name__ == '__main__':
    main()
