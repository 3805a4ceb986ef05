"""Measured speed-ups for Rasa 3.6 internals (docs/benchmarks.md says what each one bought).

`Event.resolve_by_type` walks every subclass of Event (`all_subclasses`, recursive, with an
`inspect.isabstract` check each time) for every event it deserialises; Rasa deserialises the
whole session from the tracker store on every message, so this walk was the largest single
cost of handling a message (py-spy: ~40 % of `handle_message`). A dict from type name to class,
rebuilt on a miss so late-imported event classes are still found, returns the same classes.
"""

from __future__ import annotations

from typing import Any

from rasa.shared.core import events as _events
from rasa.shared.utils.common import all_subclasses

_original = _events.Event.resolve_by_type
_by_name: dict[str, Any] = {}


def _rebuild() -> None:
    _by_name.clear()
    for cls in all_subclasses(_events.Event):
        _by_name.setdefault(cls.type_name, cls)


def resolve_by_type(type_name: str, default: Any = None) -> Any:
    cls = _by_name.get(type_name)
    if cls is None:
        _rebuild()
        cls = _by_name.get(type_name)
    if cls is not None:
        return cls
    return _original(type_name, default)


def install() -> None:
    if _events.Event.resolve_by_type is not resolve_by_type:  # type: ignore[comparison-overlap]
        _events.Event.resolve_by_type = staticmethod(resolve_by_type)  # type: ignore[method-assign]
