"""Screening catalog and review text before it reaches a prompt or a customer.

Two checks, shared by ingest (:mod:`knowledge.validate`), prompt building
(:mod:`bot.tasks.prompts`) and the grounded description (:mod:`bot.tasks.describe`):

- :func:`strip_special_tokens` removes chat-template control strings (``<|im_start|>``,
  ``<|im_end|>``, ``<|endoftext|>``, ``[INST]``, ``<</SYS>>``, ``</s>`` ...). A tokenizer's
  ``apply_chat_template`` turns such strings inside data into real special tokens, so a
  description holding ``<|im_end|>\\n<|im_start|>system`` would open a genuine system turn.
  Removal repeats until nothing changes, so nesting (``<|im_<|x|>end|>``) cannot rebuild one.
- :func:`instruction_like` says why a text addresses the assistant instead of describing a
  product ("ignore previous instructions", "tell customers ...", "say it is free", "system:"),
  or returns None. Such text is data an attacker can write (a review, a marketplace seller's
  description); it is flagged at ingest and never shown or prompted as the shop's word.

The patterns are deliberately narrow (measured on the Amazon Beauty reviews: see
docs/security.md): a false positive only hides one description from the fact sheet.
"""

from __future__ import annotations

import re

__all__ = [
    "SPECIAL_TOKENS",
    "INSTRUCTION_LIKE",
    "strip_special_tokens",
    "has_special_tokens",
    "instruction_like",
]

# <|anything|> (ChatML, Llama 3, Phi, GPT), Llama 2 / Mistral markers, sentence markers, and the
# StarCoder-style specials in SmolLM2's vocabulary (<filename>, <gh_stars>, <jupyter_code> ...).
SPECIAL_TOKENS = _SPECIAL = re.compile(
    r"<\|[^<>|]{0,64}\|>"
    r"|\[/?INST\]|<<\s*/?\s*SYS\s*>>|</?s>|<unk>|<pad>|<mask>"
    r"|<(?:filename|gh_stars|issue_start|issue_comment|issue_closed|jupyter_start|jupyter_text"
    r"|jupyter_code|jupyter_output|jupyter_script|empty_output|repo_name|file_sep|reponame"
    r"|commit_before|commit_msg|commit_after|fim_prefix|fim_middle|fim_suffix|fim_pad)>",
    re.IGNORECASE,
)


def strip_special_tokens(text: str) -> str:
    """``text`` without chat-template control strings (each replaced by a space)."""
    if "<" not in text and "[" not in text:
        return text
    while True:
        cleaned = _SPECIAL.sub(" ", text)
        if cleaned == text:
            return cleaned
        text = cleaned


def has_special_tokens(text: str) -> bool:
    return bool(_SPECIAL.search(text))


_WHO = r"(?:customers?|users?|shoppers?|buyers?|everyone|everybody|people|visitors?|readers?)"
_BOT = r"(?:assistant|ai|a\.i\.|chat ?bot|bot|language model|llm|gpt|system)"
# An imperative: at the start of a sentence or line, or after "please", "always", "you must" ...
_ORDER = r"(?:^|[\n.!?:;]\s*|\b(?:please|always|you (?:must|should|will)|be sure to|make sure to|now)\s+)"
_INSTRUCTION = [
    (
        "asks to ignore instructions",
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}\b(?:previous|prior|"
        r"above|earlier|all|any|your|the|these|those|system)\b[^.!?\n]{0,30}\b(?:instructions?|"
        r"rules?|prompts?|directions?|guidelines?|guardrails?|polic(?:y|ies))\b",
    ),
    ("addresses the assistant", rf"(?:^|[\n.!?]\s*|\b(?:dear|hey|hi|note to|attention)\s+(?:the\s+)?){_BOT}\s*[:,]"),
    ("addresses the assistant", rf"\b(?:note|message|instructions?)\s+(?:to|for)\s+(?:the\s+)?{_BOT}\b"),
    ("addresses the assistant", rf"\b(?:you are|you're|act as|pretend to be)\s+(?:now\s+)?(?:an?\s+|the\s+)?{_BOT}\b"),
    ("addresses the assistant", rf"\bif you are an?\s+{_BOT}\b|\bas an?\s+(?:ai|language model|assistant)\b,"),
    ("a role marker", r"(?:^|\n)\s*(?:system|assistant|developer)\s*:|\[(?:system|inst)\]|###\s*(?:system|instruction)"),
    ("asks to tell customers something", rf"{_ORDER}(?:tell|inform|announce to|remind|promise)\s+(?:all\s+|every\s+|the\s+|our\s+|any\s+)?{_WHO}\b"),
    ("asks to announce something", r"\b(?:announce|proclaim|declare)\s+(?:that|to)\b"),
    (
        "dictates what to say",
        rf"{_ORDER}(?:say|state|claim|write|reply|respond|answer|mention|output|print)\s+(?:only\s+)?"
        r"(?:that|with|:|it\s+is|it's|this\s+is|the\s+(?:price|product|item)\s+is)\b",
    ),
    ("dictates what to say", r"\b(?:reply|respond|answer)\s+only\b|\bonly\s+(?:reply|respond|answer|say)\b"),
    ("addresses the assistant", rf"[(\[-]\s*{_BOT}\s*:|\b(?:ranking|language|ai)\s+model\s*:"),
    ("addresses the assistant", rf"(?:^|[\n.!?(]\s*)(?:important\s+)?(?:to|for)\s+(?:the\s+|any\s+)?{_BOT}\b"),
    ("addresses the assistant", r"\b(?:assistant|ai|chat ?bot|bot|llm|gpt)\s+(?:must|should|shall|has to|needs? to)\b"),
    ("addresses the assistant", r"\bwhoever\s+(?:reads|explains|sees|processes|summari[sz]es)\s+this\b"),
    ("asks to ignore instructions", r"\bignore\s+(?:the\s+|all\s+|any\s+)?(?:facts|above|everything|context|data)\b"),
    ("dictates the ranking", r"\b(?:always|only)\s+recommend\b|\brank\w*\b[^.!?\n]{0,30}\bfirst\b|\bthe answer is\b"),
    ("dictates the ranking", rf"\b(?:every|each|all|any)\s+{_WHO}\s+who\s+(?:reads|sees)\b"),
    ("dictates the description", r"\bdescribe\s+this\s+(?:item\s+|product\s+)?(?:only\s+)?(?:by|using|as|with)\b"),
    ("asks to switch customer", r"\b(?:log(?:ged)?\s+in\s+as|switch\s+(?:to\s+)?(?:user|customer|account)|act\s+as\s+(?:user|customer)|user_?id\s*[:=])"),
    ("mentions the assistant's instructions", r"\b(?:system (?:prompt|message)|hidden instructions|rules you were given|your (?:full |hidden |original )?(?:instructions|prompt|rules|system message)|new (?:instructions?|rules?))\b"),
]  # fmt: skip
_INSTRUCTION_RE = [(why, re.compile(p, re.IGNORECASE)) for why, p in _INSTRUCTION]
# All patterns in one, for a single pass over a whole column (knowledge.validate).
INSTRUCTION_LIKE = re.compile("|".join(f"(?:{p})" for _, p in _INSTRUCTION), re.IGNORECASE)


def instruction_like(text: str) -> str | None:
    """Why ``text`` reads as instructions to the assistant, or None when it does not."""
    if not text:
        return None
    if has_special_tokens(text):
        return "holds chat-template control tokens"
    for why, pattern in _INSTRUCTION_RE:
        if pattern.search(text):
            return why
    return None
