"""Measured speed-ups for Rasa 3.6 internals (docs/benchmarks.md says what each one bought).

Both were found with py-spy on a Rasa server under load and keep Rasa's behaviour:

1. `Event.resolve_by_type` walks every subclass of Event (`all_subclasses`, recursive, with an
`inspect.isabstract` check each time) for every event it deserialises; Rasa deserialises the
whole session from the tracker store on every message, so this walk was the largest single
cost of handling a message (py-spy: ~40 % of `handle_message`). A dict from type name to class,
rebuilt on a miss so late-imported event classes are still found, returns the same classes.

2. `RemoteAction._validate_action_result` calls `jsonschema.validate`, which first checks the
   SCHEMA itself against the JSON-Schema meta-schema, on every custom action call (~26 % of
   Rasa's time under load). A validator built once for the same schema validates the same way
   and raises the same ValidationError.

3. Rasa's SQL tracker store on SQLite commits with the default `synchronous=FULL` in rollback
   journal mode: an fsync per message. WAL with `synchronous=NORMAL` keeps every committed
   event across a crash of the process (SQLite's documented guarantee; a power cut may lose the
   last transactions) and lets readers run beside the writer.
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


_validators: dict[type, Any] = {}


def _validate_action_result(self: Any, result: dict[str, Any]) -> bool:
    from jsonschema import ValidationError
    from jsonschema.validators import validator_for

    validator = _validators.get(type(self))
    if validator is None:  # the spec is a constant of the class: check it once, keep a validator
        spec = self.action_response_format_spec()
        cls = validator_for(spec)
        cls.check_schema(spec)
        validator = _validators[type(self)] = cls(spec)
    try:
        validator.validate(result)
        return True
    except ValidationError as e:
        e.message += (
            ". Failed to validate Action server response from API, make sure your response "
            "from the Action endpoint is valid."
        )
        raise e


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    if type(dbapi_connection).__module__.startswith("sqlite3"):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA busy_timeout=10000")
        cursor.close()


def install() -> None:
    import sqlalchemy as sa
    from rasa.core.actions import action as _action

    if not sa.event.contains(sa.engine.Engine, "connect", _sqlite_pragmas):
        sa.event.listen(sa.engine.Engine, "connect", _sqlite_pragmas)

    if _events.Event.resolve_by_type is not resolve_by_type:
        _events.Event.resolve_by_type = staticmethod(resolve_by_type)
    if _action.RemoteAction._validate_action_result is not _validate_action_result:
        _action.RemoteAction._validate_action_result = _validate_action_result
