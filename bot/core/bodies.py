"""What the gateway sends and receives, as types: the bodies of replies (transport-neutral, kept
in the outbox as JSON) and the kinds of input kept in the inbox.

A body is a reply to one chat: text with optional buttons, or a copy of a message (a staff reply,
a person's photo relayed to the hotline topic). Buttons carry short tokens that point at rows in
the store, never the data itself (Telegram's callback data holds 64 bytes).
"""

from __future__ import annotations

from typing import Literal, TypedDict

InputKind = Literal["text", "command", "callback", "media", "staff_message", "staff_action", "system"]
USER_INPUT_KINDS: tuple[InputKind, ...] = ("text", "command", "callback", "media")


class Button(TypedDict):
    text: str
    token: str


class MessageRef(TypedDict):
    """A message to copy (copyMessage): photos, voice notes and formatting survive."""

    from_chat_id: int
    message_id: int


class Body(TypedDict, total=False):
    """One reply. Without `chat_id` it goes to the person whose lane sends it."""

    text: str
    lang: str  # the answer language it is written in
    buttons: list[list[Button]]
    html: bool  # text is Telegram HTML (staff-side notes only; people get plain text)
    chat_id: int | None  # another chat: the hotline group
    thread_id: int | None  # the person's forum topic in the hotline group
    copy: MessageRef
    purge_user: bool  # after sending: forget everything about the person (/forget)
    keyboard: list[list[str]]  # a lasting reply keyboard under the input field (labels sent as text)
    location_key: str  # with `keyboard`: a first key, with this label, that shares the person's location
    # A PNG image (the /stats chart), base64: the outbox keeps bodies as JSON text, and the image
    # must survive a restart between the answer and its sending. `text` is then its caption.
    photo: str
