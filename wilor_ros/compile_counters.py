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
Count what ``torch.compile`` does behind one compiled function (recompilations, limit hits).

Dynamo recompiles silently when a guard fails (a new input shape, a Python value it specialised
on) and, past ``torch._dynamo.config.recompile_limit`` (8) compilations of one code object, runs
the function eagerly for good, only logging one warning. A :class:`CompileCounter` wraps a
compiled function and attributes to it what Dynamo reports while its calls run:

* compilations: Dynamo's compile-start hook (``torch._dynamo.callback_handler``), whose compile
  id ``frame/n`` says whether it is the n-th recompilation of a frame (n > 0);
* recompile-limit hits: the "recompile limit exceeded" entry Dynamo adds to
  ``torch._dynamo.utils.counters['unimplemented']`` when it gives up (torch 2.13; older releases
  named it the cache size limit), once per code object.

The hook is process-wide, so attribution uses a per-thread stack of active counters; the limit
entry is a global count read before and after each call (two threads compiling at the same time
may swap a limit hit between their counters, never lose it). ROS-free; no cost once compiled
beyond two dictionary reads per call.
"""

import contextlib
import re
import threading

import torch

# Markers of Dynamo's recompile-limit message (torch 2.13: 'recompile limit exceeded'; before
# 2.6 the limit was called cache_size_limit).
_LIMIT_MARKERS = ('recompile limit', 'recompile_limit', 'cache size limit', 'cache_size_limit')
_ACTIVE = threading.local()
_HOOK_LOCK = threading.Lock()


def _stack():
    if not hasattr(_ACTIVE, 'stack'):
        _ACTIVE.stack = []
    return _ACTIVE.stack


def _on_compile_start(args=None):
    # torch >= 2.6 passes the trigger and the compile id; 2.5 (JetPack 6's torch, the lower
    # bound of requirements-ros.txt) passes nothing and calls only for Dynamo, inside the
    # compile's context, where the id can be read.
    if args is None:
        args = _DynamoStart(torch._guards.CompileContext.current_compile_id())
    stack = _stack()
    if stack:
        stack[-1]._started(args)


class _DynamoStart:
    """The start-callback arguments torch 2.5 does not pass: a Dynamo compile and its id."""

    callback_trigger = 'DYNAMO'

    def __init__(self, compile_id):
        self.compile_id = compile_id


def recompile_limit_name():
    """Dynamo's name of its recompile limit: ``recompile_limit`` (2.6 on), ``cache_size_limit``."""
    config = torch._dynamo.config
    return 'recompile_limit' if hasattr(config, 'recompile_limit') else 'cache_size_limit'


def _install_hook():
    # torch._dynamo.reset() clears every registered callback: check on each call.
    handler = torch._dynamo.callback_handler
    if _on_compile_start not in handler.start_callbacks:
        with _HOOK_LOCK:
            if _on_compile_start not in handler.start_callbacks:
                handler.register_start_callback(_on_compile_start)


def _limit_hits():
    counters = torch._dynamo.utils.counters.get('unimplemented', {})
    return sum(count for message, count in counters.items()
               if any(marker in message.lower() for marker in _LIMIT_MARKERS))


class CompileCounter:
    """
    Compilations of one compiled function, counted while its calls run.

    ``compilations``: graphs Dynamo started compiling (the first ones included; a graph break
    adds one per resumed frame); ``recompilations``: those that replaced or added to an earlier
    compilation of the same frame (a failed guard); ``recompile_limit_hits``: times Dynamo hit
    ``recompile_limit`` and fell back to eager for good; ``cudagraph_recordings``: CUDA graphs
    (re-)recorded by ``mode='reduce-overhead'``. :meth:`limit_warning` returns a message once
    per new limit hit, for a caller that logs it once.
    """

    def __init__(self, name):
        self.name = name
        self.compilations = 0
        self.recompilations = 0
        self.recompile_limit_hits = 0
        self.cudagraph_recordings = 0
        self._warned = 0
        self._hook_before_limit = False

    def wrap(self, function):
        """Return ``function`` counted by this counter (same arguments and result)."""
        def counted(*args, **kwargs):
            with self.active():
                return function(*args, **kwargs)

        counted.__wrapped__ = function
        return counted

    @contextlib.contextmanager
    def active(self):
        """Attribute Dynamo's compilations and limit hits inside the block to this counter."""
        _install_hook()
        stack = _stack()
        stack.append(self)
        hits = _limit_hits()
        try:
            yield self
        finally:
            stack.pop()
            new_hits = max(0, _limit_hits() - hits)
            self.recompile_limit_hits += new_hits
            if self._hook_before_limit:
                # torch 2.5 starts the hook before it checks the limit: the compilation it
                # then refused (a recompilation of the frame) was counted.
                self.compilations -= new_hits
                self.recompilations -= new_hits

    def _started(self, args):
        self._hook_before_limit = isinstance(args, _DynamoStart)
        trigger = getattr(args.callback_trigger, 'name', str(args.callback_trigger))
        if trigger == 'CUDAGRAPH_RECORDING':
            self.cudagraph_recordings += 1
            return
        if trigger != 'DYNAMO':
            return
        self.compilations += 1
        # Compile ids read 'frame/n' (optionally '[frame/n]', with an attempt suffix).
        match = re.search(r'(\d+)/(\d+)', str(args.compile_id))
        if match and int(match.group(2)) > 0:
            self.recompilations += 1

    def limit_warning(self):
        """Return a warning the first time after each new recompile-limit hit, else None."""
        if self.recompile_limit_hits <= self._warned:
            return None
        self._warned = self.recompile_limit_hits
        name = recompile_limit_name()
        return (f'{self.name}: torch.compile hit torch._dynamo.config.{name} '
                f'({getattr(torch._dynamo.config, name)}) after {self.recompilations} '
                'recompilations and now runs eagerly (no CUDA graphs); set TORCH_LOGS=recompiles '
                'to see why it recompiled')

    def as_dict(self):
        """Return the counts as a dict (for diagnostics)."""
        return {'compilations': self.compilations, 'recompilations': self.recompilations,
                'recompile_limit_hits': self.recompile_limit_hits,
                'cudagraph_recordings': self.cudagraph_recordings}
