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
The one way the package's nodes declare parameters: a table of :class:`ParameterSpec`.

A spec is a parameter's only definition: name, default (its type is the parameter's type),
description, range, read-only and an extra check. From a table come the declarations with their
``ParameterDescriptor`` (what ``ros2 param describe`` shows), the validation of a value
(:meth:`ParameterSpec.problem`) and the frozen settings dataclass
(:func:`settings_dataclass`) whose attributes are the names with '_' for '.'
(``detection.confidence`` -> ``detection_confidence``).
"""

import dataclasses
from typing import Any, Callable, Optional, Tuple

from rcl_interfaces.msg import FloatingPointRange, IntegerRange, ParameterDescriptor


def choice(*choices):
    """Return a check accepting only ``choices`` (for :attr:`ParameterSpec.check`)."""
    def check(value):
        if value not in choices:
            return f'must be one of {", ".join(choices)}, got {value!r}'
        return None
    return check


def _is_integer(value):
    return isinstance(value, int) and not isinstance(value, bool)


@dataclasses.dataclass(frozen=True)
class ParameterSpec:
    """
    One node parameter: name, default (its type is the parameter type), documentation.

    ``dynamic_typing``: the parameter takes any type and the value is converted to the
    default's type (``-p source:=0`` arrives as an integer, ``-p fx:=600`` too).
    """

    name: str
    default: Any
    description: str
    read_only: bool = False
    value_range: Optional[Tuple[float, float]] = None
    check: Optional[Callable[[Any], Optional[str]]] = None
    constraints: str = ''
    dynamic_typing: bool = False

    @property
    def attribute(self):
        """Return the settings attribute of this parameter: the name with '_' for '.'."""
        return self.name.replace('.', '_')

    def descriptor(self):
        """Return the ParameterDescriptor shown by ``ros2 param describe``."""
        descriptor = ParameterDescriptor(name=self.name, description=self.description,
                                         read_only=self.read_only,
                                         additional_constraints=self.constraints,
                                         dynamic_typing=self.dynamic_typing)
        if self.value_range is not None:
            low, high = self.value_range
            if _is_integer(self.default):
                descriptor.integer_range = [IntegerRange(from_value=int(low), to_value=int(high),
                                                         step=1)]
            else:
                descriptor.floating_point_range = [
                    FloatingPointRange(from_value=float(low), to_value=float(high), step=0.0)]
        return descriptor

    def settings_value(self, value):
        """
        Return a (valid) parameter value as the settings hold it.

        Lists become tuples of strings or of floats (immutable); a dynamically typed value is
        converted to the default's type.
        """
        if isinstance(self.default, list):
            if self.default and isinstance(self.default[0], str):
                return tuple(str(v) for v in value)
            return tuple(float(v) for v in value)
        if self.dynamic_typing:
            return type(self.default)(value)
        return value

    def _has_type(self, value):
        if self.dynamic_typing:
            try:
                self.settings_value(value)
            except (TypeError, ValueError):
                return False
            return True
        if isinstance(self.default, bool):
            return isinstance(value, bool)
        if isinstance(self.default, int):
            return _is_integer(value)
        if isinstance(self.default, float):
            return isinstance(value, float)
        if isinstance(self.default, list):
            return not isinstance(value, (str, bytes)) and hasattr(value, '__len__')
        return isinstance(value, type(self.default))

    def problem(self, value):
        """Return why ``value`` is invalid for this parameter, or None when it is valid."""
        if not self._has_type(value):
            return f'{self.name} must be of type {type(self.default).__name__}, got {value!r}'
        if self.dynamic_typing:
            value = self.settings_value(value)
        if self.value_range is not None:
            low, high = self.value_range
            if not low <= value <= high:
                return f'{self.name} must be in [{low}, {high}], got {value}'
        if self.check is not None:
            reason = self.check(value)
            if reason:
                return f'{self.name} {reason}'
        return None


def declare_parameters(node, specs):
    """Declare every parameter of ``specs`` on ``node`` (YAML / command line values override)."""
    node.declare_parameters('', [(spec.name, spec.default, spec.descriptor())
                                 for spec in specs])


def parameter_problems(specs, values):
    """Return why values of ``{name: value}`` are invalid (names without a spec pass)."""
    by_name = {spec.name: spec for spec in specs}
    reasons = []
    for name, value in values.items():
        spec = by_name.get(name)
        reason = spec.problem(value) if spec is not None else None
        if reason:
            reasons.append(reason)
    return reasons


class ParameterSettings:
    """
    The constructors of a settings dataclass made by :func:`settings_dataclass`.

    An immutable snapshot: a change of parameters makes a new one (:meth:`updated`), so a
    reader never sees half an update.
    """

    SPECS = ()

    @classmethod
    def from_values(cls, values):
        """Build from ``{parameter name: value}`` (every parameter of the table)."""
        return cls(**{spec.attribute: spec.settings_value(values[spec.name])
                      for spec in cls.SPECS})

    @classmethod
    def from_node(cls, node):
        """Read the current values of a node on which the table's parameters were declared."""
        return cls.from_values({spec.name: node.get_parameter(spec.name).value
                                for spec in cls.SPECS})

    def updated(self, parameters):
        """Return a copy with the given rclpy Parameters applied (unknown names ignored)."""
        by_name = {spec.name: spec for spec in self.SPECS}
        changes = {by_name[parameter.name].attribute:
                   by_name[parameter.name].settings_value(parameter.value)
                   for parameter in parameters if parameter.name in by_name}
        return dataclasses.replace(self, **changes)


def _annotation(default):
    if isinstance(default, list):
        return Tuple[str, ...] if default and isinstance(default[0], str) else Tuple[float, ...]
    return type(default)


def settings_dataclass(class_name, specs):
    """
    Return a frozen dataclass with one field per spec, built from the table itself.

    Subclass it to add methods; the fields are the specs' attributes in table order, so the
    table stays the only list of parameters.
    """
    return dataclasses.make_dataclass(
        class_name, [(spec.attribute, _annotation(spec.default)) for spec in specs],
        bases=(ParameterSettings,), namespace={'SPECS': tuple(specs)}, frozen=True)
