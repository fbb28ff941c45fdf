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

"""Warnings throttled per kind of problem: a second kind within the period is still logged."""

import pytest
from wilor_ros.ros.throttled_log import KindThrottledLogger, MAX_KINDS, message_template

pytestmark = pytest.mark.ros


class RecordingLogger:

    def __init__(self):
        self.lines = []

    def warning(self, text):
        self.lines.append(('warning', text))

    def error(self, text):
        self.lines.append(('error', text))


class FakeClock:

    def __init__(self):
        self.now = 100.0

    def __call__(self):
        return self.now


STEP = 'bgr8 image of width 640 needs step >= 1920 bytes (3 per pixel), got step {}'
ENCODING = "unsupported image encoding '{}'; supported: bgr8, rgb8"


def make():
    logger, clock = RecordingLogger(), FakeClock()
    return logger, clock, KindThrottledLogger(logger, period=5.0, clock=clock)


def test_two_kinds_within_the_period_are_both_logged():
    logger, clock, problems = make()
    assert problems.warning('bad_image', STEP.format(1919))
    clock.now += 0.1
    assert problems.warning('bad_image', ENCODING.format('32FC7'))
    clock.now += 0.1
    assert problems.warning('camera_info_invalid', 'camera_info K is all zero')
    assert problems.error('internal', 'frame failed: KeyError(1)')
    assert [level for level, _ in logger.lines] == ['warning'] * 3 + ['error']


def test_one_kind_is_throttled_and_what_was_not_logged_is_counted():
    logger, clock, problems = make()
    for step in range(10):  # other numbers, same kind
        problems.warning('bad_image', STEP.format(step))
        clock.now += 0.4
    assert logger.lines == [('warning', STEP.format(0))]
    clock.now += 2.0
    assert problems.warning('bad_image', STEP.format(99))
    assert logger.lines[-1] == ('warning', STEP.format(99) + ' (9 more like it not logged in '
                                'the last 5 s)')
    clock.now += 5.0
    assert problems.warning('bad_image', STEP.format(5))
    assert logger.lines[-1] == ('warning', STEP.format(5))  # nothing was left out since


def test_templates_mask_numbers_and_quoted_names_only():
    assert message_template('got fx=-600, fy=1e+300, cx=nan, cy=inf') == \
        message_template('got fx=0, fy=0.5, cx=319.5, cy=239.5')
    assert message_template(ENCODING.format('32FC7')) == message_template(ENCODING.format('x'))
    assert message_template('bgr8 image') != message_template('rgb8 image')
    assert message_template('focal lengths must lie in [1, 1e6]') != \
        message_template('intrinsics must be finite')


def test_the_memory_of_kinds_is_bounded():
    logger, clock, problems = make()
    for index in range(3 * MAX_KINDS):
        problems.warning(f'kind{index}', 'text')
    assert len(logger.lines) == 3 * MAX_KINDS
    assert len(problems._last) == MAX_KINDS
    assert not problems.warning(f'kind{3 * MAX_KINDS - 1}', 'text')  # recent ones remembered
