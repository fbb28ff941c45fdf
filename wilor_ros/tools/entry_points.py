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
Where the console scripts start: stop signals are caught before the package's imports.

Importing a node or a tool imports torch (2 s on an idle machine, up to 8 s under load). A
Ctrl-C or a ``ros2 launch`` SIGTERM in that time met Python's default handlers: a
KeyboardInterrupt traceback, or exit status -15. These entry points record such a signal
first, import the real ``main`` afterwards and hand it the signal, so the node or tool ends
as it does for a signal at any other time (nodes: status 0, no error line; tools: one line,
status 130). Nothing here imports torch or rclpy.
"""

import signal
import sys

_STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _EarlySignals:
    """Record SIGINT / SIGTERM until the real handlers are installed."""

    def __init__(self):
        self.received = []
        for signum in _STOP_SIGNALS:
            signal.signal(signum, self._record)

    def _record(self, signum, frame):
        self.received.append(signal.Signals(signum).name)

    @property
    def first(self):
        """Return the name of the first signal received (None: none)."""
        return self.received[0] if self.received else None


def wilor_node():
    """Run ``wilor_node`` (console script)."""
    early = _EarlySignals()
    from wilor_ros.ros.wilor_node import main

    return main(early_signals=early)


def wilor_source():
    """Run ``wilor_source`` (console script)."""
    early = _EarlySignals()
    from wilor_ros.ros.source_node import main

    return main(early_signals=early)


def wilor_infer():
    """Run ``wilor-infer`` (console script)."""
    early = _EarlySignals()
    from wilor_ros.tools.infer import main

    if early.first is not None:
        print('wilor-infer: interrupted', file=sys.stderr)
        return 130
    return main()
