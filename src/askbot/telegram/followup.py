"""Follow-up questions: a short question that leans on the previous one is asked together with it.

The rule is deliberately simple and explainable: a question of at most ``MAX_FOLLOWUP_WORDS`` words that
starts with a follow-up cue ("ومتى", "وأين", "and when", ...) or refers back with a pronoun ("ذلك", "هذا", "it")
is concatenated with the chat's previous question before retrieval, so "ومتى حدث ذلك؟" after a question about
a visit retrieves passages about that visit.
"""

from __future__ import annotations

import re

MAX_FOLLOWUP_WORDS = 4

# Opening words that ask about something already named: "متى ...؟", "ومتى ...؟", "and when ...?".
QUESTION_CUES = {"متى", "أين", "اين", "كيف", "لماذا", "when", "where", "why", "how"}
LINKING_WORDS = {"و", "ف", "ثم", "وماذا", "and", "so", "also", "then"}
ATTACHED_CONJUNCTIONS = ("و", "ف")  # written joined to the next word: "ومتى", "فلماذا"
BACK_REFERENCES = {
    "ذلك",
    "هذا",
    "هذه",
    "تلك",
    "هؤلاء",
    "ذاك",
    "حينها",
    "عندها",
    "عنه",
    "عنها",
    "it",
    "that",
    "this",
    "they",
    "them",
    "there",
    "he",
    "she",
    "him",
    "her",
}
_WORD = re.compile(r"\w+")


def is_followup(question: str) -> bool:
    """True for a short question that opens with a follow-up cue or refers back with a pronoun."""
    words = _WORD.findall(question.lower())
    if not words or len(words) > MAX_FOLLOWUP_WORDS:
        return False
    if any(word in BACK_REFERENCES for word in words):
        return True
    first = words[0]
    if first in QUESTION_CUES or first in LINKING_WORDS:
        return True
    return first.startswith(ATTACHED_CONJUNCTIONS) and first[1:] in QUESTION_CUES


def resolve(question: str, previous: str | None) -> tuple[str, bool]:
    """The question to ask: joined to ``previous`` when it is a follow-up; and whether it was joined."""
    if previous and is_followup(question):
        return f"{previous} {question}", True
    return question, False
