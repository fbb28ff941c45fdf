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

"""Ending a node on Ctrl-C / SIGTERM the same way on every ROS 2 release, once and quietly."""

import contextlib
import signal

import rclpy
from rclpy.executors import ExternalShutdownException
from rclpy.impl.implementation_singleton import rclpy_implementation


@contextlib.contextmanager
def shutdown_ends_spin():
    """
    Let a spin that the context's shutdown interrupts end quietly; re-raise any other error.

    rclpy 7 (Jazzy) can raise RCLError ("the given context is not valid") instead of
    ExternalShutdownException when the signal handler shuts the context down while the executor
    builds its wait set: after a shutdown that is the same ending, not an error.
    """
    try:
        yield
    except rclpy_implementation.RCLError:
        if rclpy.ok():
            raise


class StopRequested(BaseException):
    """
    A stop signal ended the start-up or the spin of a node's main thread.

    A BaseException, as KeyboardInterrupt: rclpy's lifecycle code turns an ``Exception`` from a
    transition callback into the 'errorprocessing' state (and error lines) instead of letting it
    end an abandoned configure.
    """


class StopSignals:
    """
    One orderly stop for Ctrl-C and SIGTERM, however many of them arrive.

    A terminal's Ctrl-C reaches every process of the group, and ``ros2 launch`` forwards another
    SIGINT about half a second later (then SIGTERM when a node is slow to end): Python's default
    handler turns each SIGINT into a KeyboardInterrupt, so the second one, arriving while the
    node is being destroyed, killed the process (exit status -2 / 130). SIGTERM during
    start-up left configure loading weights in a process whose context was already shut down.

    Create it before ``rclpy.init``: rclpy's own handlers (which shut the context down, so a
    spin ends) then call these Python handlers too. The first signal is recorded in
    ``requested``; while :meth:`armed` it also raises :class:`StopRequested` in the main thread,
    so loading weights or a spin is left at once. Every later signal is ignored: the process is
    already ending and ends with status 0.
    """

    SIGNALS = (signal.SIGINT, signal.SIGTERM)

    def __init__(self, early_signals=None):
        """
        Install the handlers for SIGINT and SIGTERM (main thread only).

        ``early_signals``: what recorded signals before (the console scripts' entry points,
        :mod:`wilor_ros.tools.entry_points`, while the package imported); its ``first`` is read
        after these handlers are in place, so no signal falls between the two.
        """
        self.requested = None
        self.node = None   # the node :meth:`running` destroys at the end
        self._armed = False
        for signum in self.SIGNALS:
            signal.signal(signum, self._handle)
        if early_signals is not None and early_signals.first is not None:
            self.requested = early_signals.first

    def _handle(self, signum, frame):
        if self.requested is not None:
            return  # A repeated Ctrl-C or launch's escalation: the stop is under way.
        self.requested = signal.Signals(signum).name
        if self._armed:
            self._armed = False  # Raised once; the code that catches it must not see another.
            raise StopRequested(self.requested)

    @contextlib.contextmanager
    def armed(self):
        """
        Let a stop signal end the block with :class:`StopRequested`; catch it outside the block.

        A signal that came before the block ends it at once. Leaving the block disarms, so the
        clean-up after it (destroying the node, shutting rclpy down) is never interrupted.
        """
        if self.requested is not None:
            raise StopRequested(self.requested)
        self._armed = True
        try:
            yield self
        finally:
            self._armed = False

    @contextlib.contextmanager
    def running(self):
        """
        Run a node's main body; then destroy :attr:`node` (if set) and end rclpy quietly.

        Call it after ``rclpy.init``; the body sets ``stop.node`` once the node exists. It makes
        rclpy's global executor first: ``rclpy.spin`` would build it lazily, and a stop raised
        inside the executor's constructor leaves a half-made executor whose ``__del__`` fails
        loudly. A stop (:class:`StopRequested`, KeyboardInterrupt, rclpy's
        ExternalShutdownException) ends the body; so does any error after a stop request: a
        stop raised inside a call into rclpy's C++ comes out as pybind11's RuntimeError (seen:
        take_message under ``ros2 launch``), and whatever the interrupted call raised is the
        stop. Any other error goes on, after the clean-up.
        """
        rclpy.get_global_executor()
        try:
            yield self
        except (StopRequested, KeyboardInterrupt, ExternalShutdownException):
            pass
        except Exception:
            if self.requested is None:
                raise
        finally:
            if self.node is not None:
                self.node.destroy_node()
            rclpy.try_shutdown()
            self.ignore_from_now()

    def ignore_from_now(self):
        """
        Ignore both signals for the rest of the process (call it last, after rclpy's shutdown).

        Python puts the default handlers back while the interpreter finalises, where a late
        second signal would still end the process with -2 / -15; ignored ones stay ignored.
        """
        self.requested = self.requested or 'exit'
        for signum in self.SIGNALS:
            signal.signal(signum, signal.SIG_IGN)
