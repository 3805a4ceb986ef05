"""Dalil's custom actions, registered in one place: the action server imports this package.

Actions are thin (read the tracker, call one service, dispatch texts from data, return events);
the services they call (bot.core.content, bot.events) have no Rasa imports.
"""

from actions.dialogue import (
    ActionAnswerFaq,
    ActionChangeLanguage,
    ActionDeleteData,
    ActionFallback,
    ActionRequestHuman,
    ActionShowMenu,
    ActionUrgent,
)
from actions.events_action import ActionEvents

__all__ = [
    "ActionAnswerFaq",
    "ActionChangeLanguage",
    "ActionDeleteData",
    "ActionEvents",
    "ActionFallback",
    "ActionRequestHuman",
    "ActionShowMenu",
    "ActionUrgent",
]
