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

"""The command-line tools: ``wilor-infer`` (offline inference) and ``wilor-download``."""

import signal
import threading


def interrupt_on_sigterm():
    """
    Make SIGTERM stop a tool like Ctrl-C does: through its KeyboardInterrupt handling.

    So ``kill`` or ``timeout`` end a tool with the same clean path (outputs closed, a partial
    download kept for resuming, one line instead of a traceback) as Ctrl-C.
    """
    def interrupt(signum, frame):
        raise KeyboardInterrupt

    if threading.current_thread() is threading.main_thread():   # signal.signal needs it
        signal.signal(signal.SIGTERM, interrupt)
