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
The /diagnostics logic of wilor_node without DDS: FrameStatistics on a fake clock.

Known truth: the tests drive the clock and the worker events themselves, so every rate, stall
age and level is known exactly.
"""

import pytest

from wilor_ros.ros.node_diagnostics import diagnostic_status, FrameStatistics

pytestmark = pytest.mark.ros


class Clock:
    """A monotonic clock that only moves when told to."""

    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now

    def advance(self, seconds):
        self.now += seconds


@pytest.fixture()
def clock():
    return Clock()


def status_of(stats, **limits):
    from diagnostic_msgs.msg import DiagnosticStatus

    status = diagnostic_status(stats.report(window=limits.pop('window', 10.0)), 'wilor',
                               'cpu', '/image', **limits)
    values = {item.key: item.value for item in status.values}
    level = {DiagnosticStatus.OK: 'OK', DiagnosticStatus.WARN: 'WARN',
             DiagnosticStatus.ERROR: 'ERROR'}[status.level]
    return level, status.message, values


def process_frames(stats, clock, count, seconds_per_frame, hands=1):
    """Feed a worker slower than the camera: frames keep arriving while one is processed."""
    for _ in range(count):
        stats.count_received(dropped=False)
        clock.advance(seconds_per_frame)
        stats.count_received(dropped=True)   # the next frame, already waiting
        stats.count_processed(seconds_per_frame, seconds_per_frame, hands)


def test_slow_processing_reports_its_true_rate_not_zero(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=10, seconds_per_frame=4.0)   # 0.25 Hz, 40 s
    for _ in range(3):   # the report does not reset the window: every second says the same
        level, message, values = status_of(stats, stall_timeout=20.0, latency_budget=0.0)
        assert level == 'OK' and message == '0.25 Hz', message
        assert float(values['processing_rate_hz']) == pytest.approx(0.25, abs=0.001)
        assert float(values['processing_time_ms']) == pytest.approx(4000.0)
    # Whatever the window and its phase against the frames: 0.25 Hz.
    for window in (9.0, 11.0, 30.0):
        assert status_of(stats, window=window, latency_budget=0.0)[1] == '0.25 Hz'


def test_rate_before_a_whole_window_is_over_the_time_since_the_first_frame(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=2, seconds_per_frame=2.0)   # 4 s in
    _, message, _ = status_of(stats, window=10.0, latency_budget=0.0)
    assert message == '0.50 Hz'


def test_fast_rates_keep_one_decimal(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=300, seconds_per_frame=1 / 30)
    _, message, _ = status_of(stats, latency_budget=0.0)
    assert message == '30.0 Hz'


def test_a_stuck_worker_turns_error_after_the_stall_timeout(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=3, seconds_per_frame=0.5)
    # The worker hangs in a frame; the camera keeps sending.
    for _ in range(40):
        clock.advance(0.25)
        stats.count_received(dropped=True)
    level, message, values = status_of(stats, stall_timeout=20.0)
    assert level == 'OK'   # 10 s without progress: still within the limit
    assert float(values['waiting_without_progress_s']) == pytest.approx(10.0)
    for _ in range(44):
        clock.advance(0.25)
        stats.count_received(dropped=True)
    level, message, values = status_of(stats, stall_timeout=20.0)
    assert level == 'ERROR' and message.startswith('stalled: frames arrive but none was '
                                                   'processed for 21 s'), message
    # The rate decays to zero once the window holds no finished frame.
    assert float(values['processing_rate_hz']) == 0.0
    # One finished frame clears the error.
    stats.count_processed(0.5, 0.5, 1)
    assert status_of(stats, stall_timeout=20.0)[0] == 'OK'


def test_a_slow_but_working_node_is_not_stalled(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=10, seconds_per_frame=15.0)
    level, _, values = status_of(stats, stall_timeout=20.0, latency_budget=0.0)
    assert level == 'OK'
    # The frame that arrived during the last one waits since that one finished.
    assert float(values['waiting_without_progress_s']) == 0.0
    clock.advance(5.0)
    assert float(status_of(stats)[2]['waiting_without_progress_s']) == pytest.approx(5.0)


def test_no_frames_and_idle_frames_are_not_a_stall(clock):
    stats = FrameStatistics(clock)
    clock.advance(100.0)
    level, message, _ = status_of(stats, stall_timeout=1.0)
    assert (level, message) == ('OK', 'waiting for images on /image')
    for _ in range(100):   # nobody subscribes: frames are taken and skipped
        stats.count_received(dropped=False)
        stats.count_idle()
        clock.advance(0.5)
    level, message, _ = status_of(stats, stall_timeout=1.0)
    assert (level, message) == ('OK', 'idle: nobody subscribes to hands, markers or debug_image')


def test_failing_every_frame_is_a_stall_too(clock):
    stats = FrameStatistics(clock)
    for _ in range(30):
        stats.count_received(dropped=False)
        stats.count_error('inference', 'CUDA out of memory')
        clock.advance(1.0)
    level, message, _ = status_of(stats, stall_timeout=20.0)
    assert level == 'ERROR' and message.endswith('last error inference: CUDA out of memory')


def test_latency_over_the_budget_warns(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=10, seconds_per_frame=1.5)
    level, message, values = status_of(stats, latency_budget=1.0)
    assert level == 'WARN' and message == 'latency 1500 ms over the budget of 1000 ms (0.67 Hz)'
    assert values['latency_budget_ms'] == '1000'
    assert status_of(stats, latency_budget=2.0)[0] == 'OK'
    assert status_of(stats, latency_budget=0.0)[0] == 'OK'   # 0: no latency check


def test_bad_frames_warn_while_they_are_in_the_window(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=5, seconds_per_frame=0.1)
    stats.count_error('bad_image', 'step too small')
    level, message, values = status_of(stats, latency_budget=0.0)
    assert level == 'WARN' and message == ('1 bad frames in the last 10 s: bad_image: step too '
                                           'small')
    assert values['errors.bad_image'] == '1'
    process_frames(stats, clock, count=110, seconds_per_frame=0.1)   # 11 s later
    level, _, values = status_of(stats, latency_budget=0.0)
    assert level == 'OK' and values['errors.bad_image'] == '1'   # the total stays


def test_counters_are_totals(clock):
    stats = FrameStatistics(clock)
    process_frames(stats, clock, count=4, seconds_per_frame=0.2, hands=3)
    stats.count_published('markers')
    _, _, values = status_of(stats)
    assert (values['frames_received'], values['frames_processed'], values['frames_dropped'],
            values['hands_last_frame'], values['published.markers']) == ('8', '4', '4', '3', '1')


# --------------------------------------------------------------------------------------------
# Over DDS: a node whose inference hangs reports ERROR on /diagnostics in time.


def test_a_node_whose_inference_hangs_reports_error_on_diagnostics():
    import time

    from fixture_paths import DETECTOR, RECONSTRUCTOR
    from ros_harness import node_rig, PROGRAMS, ros_env, RosProcess

    stall_timeout = 2.0
    env = ros_env()
    node = RosProcess([PROGRAMS / 'stalling_node.py', '--good', '2', '--ros-args',
                       '-p', f'detector_path:={DETECTOR}',
                       '-p', f'reconstructor_path:={RECONSTRUCTOR}', '-p', 'device:=cpu',
                       '-p', f'diagnostics.stall_timeout:={stall_timeout}',
                       '-p', 'diagnostics.latency_budget:=0.0',
                       # No pairing wait between the last good frame and the hang.
                       '-p', 'sync.wait:=0.0'], env)
    with node_rig(node, env) as (camera, probe):
        probe('subscribe', what='hands')   # without a subscriber the node would idle
        assert probe('wait_publisher')['matched'], node.output
        camera.send('flood', rate=10.0, seconds=12.0, first_sec=2000, topic='image')
        blocked_at = node.wait_for_json('blocked_at', timeout=30)['blocked_at']
        statuses = []
        while True:
            status = probe('diagnostics', timeout=5.0)
            assert not status.get('timeout'), node.output
            statuses.append((time.monotonic() - blocked_at, status))
            if status['level'] == 2 or statuses[-1][0] > 10.0:
                break
    elapsed, error = statuses[-1]
    print(f'ERROR on /diagnostics {elapsed:.2f} s after the hang (timeout {stall_timeout} s)')
    assert error['level'] == 2, statuses
    assert error['message'].startswith('stalled: frames arrive but none was processed')
    # The status is published once a second: ERROR within the timeout plus two periods (the
    # wait started when the last good frame finished, a few ms before the hang).
    assert stall_timeout - 0.1 <= elapsed <= stall_timeout + 2.5, statuses
    # Before the hang it processed frames and said so.
    assert int(error['values']['frames_processed']) == 2
    assert all(status['level'] == 0 for _, status in statuses[:-1]), statuses
