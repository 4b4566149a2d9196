"""Satisfaction: the question in the partner's thread, its comment form, and the card's rating. Pure."""

from __future__ import annotations

import json
from typing import Any

CSAT_RATE_ACTION = "csat_rate"  # value "ANSWER_ID:RATING"
CSAT_COMMENT_ACTION = "csat_comment"  # value "ANSWER_ID"
CSAT_COMMENT_CALLBACK = "csat_comment_form"
FACES = {1: "1 :disappointed:", 2: "2", 3: "3", 4: "4", 5: "5 :star-struck:"}


def question(ref: str, answer_id: int) -> tuple[str, list[Any]]:
    text = f"How did we do on *{ref}*? Rate it from 1 (poor) to 5 (excellent)."
    rates = [
        {
            "type": "button",
            "action_id": f"{CSAT_RATE_ACTION}_{rating}",
            "text": {"type": "plain_text", "text": FACES[rating], "emoji": True},
            "value": f"{answer_id}:{rating}",
        }
        for rating in range(1, 6)
    ]
    comment = {
        "type": "button",
        "action_id": CSAT_COMMENT_ACTION,
        "text": {"type": "plain_text", "text": "Add a comment"},
        "value": str(answer_id),
    }
    blocks: list[Any] = [
        {"type": "section", "text": {"type": "mrkdwn", "text": text}},
        {"type": "actions", "block_id": "csat", "elements": [*rates, comment]},
    ]
    return text, blocks


def comment_form(answer_id: int, channel: str | None) -> dict[str, Any]:
    options = [
        {"text": {"type": "plain_text", "text": str(rating)}, "value": str(rating)} for rating in range(1, 6)
    ]
    return {
        "type": "modal",
        "callback_id": CSAT_COMMENT_CALLBACK,
        "title": {"type": "plain_text", "text": "How did we do?"},
        "submit": {"type": "plain_text", "text": "Send"},
        "close": {"type": "plain_text", "text": "Cancel"},
        "private_metadata": json.dumps({"answer": answer_id, "channel": channel or ""}),
        "blocks": [
            {
                "type": "input",
                "block_id": "rating",
                "label": {"type": "plain_text", "text": "Rating"},
                "optional": True,
                "element": {"type": "radio_buttons", "action_id": "rating", "options": options},
            },
            {
                "type": "input",
                "block_id": "comment",
                "label": {"type": "plain_text", "text": "Comment"},
                "element": {
                    "type": "plain_text_input",
                    "action_id": "comment",
                    "multiline": True,
                    "max_length": 2000,
                },
            },
        ],
    }


def rating_words(rating: int) -> str:
    return f"{':star:' * rating}{':heavy_minus_sign:' * (5 - rating)} {rating}/5"


def thanks(rating: int) -> str:
    return f"Thank you: you rated it {rating}/5. You can change your answer for a few days."
