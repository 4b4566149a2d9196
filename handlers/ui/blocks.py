"""Block Kit's parts, as plain dicts: the pieces every builder in `ui/` puts together."""

from __future__ import annotations

from typing import Any

Block = dict[str, Any]


def plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text, "emoji": True}


def md(text: str) -> dict[str, Any]:
    return {"type": "mrkdwn", "text": text}


def section(text: str) -> Block:
    return {"type": "section", "text": md(text[:3000])}


def context(text: str) -> Block:
    return {"type": "context", "elements": [md(text[:3000])]}


def input_block(
    block_id: str, label: str, element: dict[str, Any], hint: str | None = None, optional: bool = False
) -> Block:
    block: Block = {
        "type": "input",
        "block_id": block_id,
        "label": plain(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = plain(hint)
    return block


def text_input(
    action_id: str,
    multiline: bool = False,
    max_length: int | None = None,
    placeholder: str | None = None,
    initial: str = "",
) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "plain_text_input", "action_id": action_id, "multiline": multiline}
    if max_length:
        element["max_length"] = max_length
    if initial:
        element["initial_value"] = initial[:max_length] if max_length else initial
    if placeholder:
        element["placeholder"] = plain(placeholder)
    return element


def option(value: str, text: str) -> dict[str, Any]:
    return {"text": plain(text), "value": value}


def select(action_id: str, options: dict[str, str], placeholder: str) -> dict[str, Any]:
    return {
        "type": "static_select",
        "action_id": action_id,
        "placeholder": plain(placeholder),
        "options": [option(value, text) for value, text in options.items()],
    }


def radio(action_id: str, options: dict[str, str], initial: str | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "radio_buttons",
        "action_id": action_id,
        "options": [option(value, text) for value, text in options.items()],
    }
    if initial:
        element["initial_option"] = option(initial, options[initial])
    return element


def modal(
    callback_id: str, title: str, blocks: list[Block], private_metadata: str, submit: str = "Submit"
) -> dict[str, Any]:
    view: dict[str, Any] = {
        "type": "modal",
        "callback_id": callback_id,
        "title": plain(title),
        "close": plain("Cancel"),
        "blocks": blocks,
        "private_metadata": private_metadata,
        "submit": plain(submit),
    }
    return view
