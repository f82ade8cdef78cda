"""Make a follow-up question self-contained, so retrieval can find its passages.

"When did he join Kingsoft?" retrieves poorly on its own: the index cannot know
who "he" is. :func:`rewrite_query` looks back through the conversation and
writes the name in: "When did Lei Jun join Kingsoft?". Only the *retrieval
query* is rewritten; the question the generator answers stays the user's own.

Design: a small, predictable heuristic rather than a model, so that it runs in
microseconds and a test table can pin its behaviour down.

* A **name** is a run of capitalised words ("Lei Jun", "Wuhan University",
  "Xiaomi"), leaving out capitalised function words ("When", "The", "In") and
  month and day names. A run of two to four words without a company word
  ("Technology", "University", "Ltd", ...) is taken for a **person**; anything
  else (one word, an acronym, a name with a company word) for a **thing**.
* **Pronouns** come in three kinds: person (he, she, him, his, her, ...),
  thing (it, its, "the company", "the firm", ...) and group (they, them,
  their, ...), which takes a thing if there is one and a person otherwise.
* The **antecedent** is searched from the latest turn backwards; within a turn
  the question's names come before the answer's, left to right. A pronoun
  whose kind of name already occurs in the question itself is left alone (it
  most likely points there).
* Only the first pronoun of each kind is replaced: one mention of the name is
  enough for retrieval, and the query stays readable.

Concessions: gender and number are not tracked ("she" takes the latest person,
whoever it is); a multi-word place ("Hong Kong") looks like a person; a
sentence-initial ordinary word that is not in the function-word list may pass
for a name. Each of these only adds a wrong word to a retrieval query.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from corpus.analysis import CITATION_MARKER, HONORIFICS, NOT_NAMES

Kind = Literal["person", "thing", "group"]

_PERSON_PRONOUNS: dict[str, str] = {
    "he": "name",
    "she": "name",
    "him": "name",
    "himself": "name",
    "herself": "name",
    "his": "possessive",
    "hers": "possessive",
    "her": "her",  # object or possessive, decided by the next word
}
_THING_PRONOUNS: dict[str, str] = {"it": "name", "itself": "name", "its": "possessive"}
_GROUP_PRONOUNS: dict[str, str] = {
    "they": "name",
    "them": "name",
    "themselves": "name",
    "their": "possessive",
    "theirs": "possessive",
}
_THING_PHRASE = re.compile(
    r"\b(?:the|this|that)\s+(?:company|firm|startup|start-up|corporation|business|brand)\b",
    re.IGNORECASE,
)


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


_COMPANY_WORDS = _words(
    """
    inc corp corporation company co ltd limited llc plc group technology technologies software
    labs lab bank university college school institute foundation capital ventures holdings
    motors electronics systems networks games studio studios partners association agency
    ministry council club academy
    """
)
# After "her", one of these means "her" is an object ("told her about"), not a possessive.
_NOT_NOUNS = _words(
    """
    a an the to in on at for with about from by of into and or but that this when where why how
    if as than so after before during since until again too also first last
    """
)
# "it" in "how long did it take", "is it true that": nothing to resolve.
_EXPLETIVE_AFTER = frozenset({"take", "takes", "took", "true", "possible", "likely", "known"})

_TOKEN = re.compile(r"[^\W\d_][\w\-]*(?:['’][A-Za-z]+)?")


@dataclass(frozen=True)
class _Name:
    text: str
    kind: Kind  # "person" or "thing"


def _strip_possessive(word: str) -> tuple[str, bool]:
    for ending in ("'s", "’s", "'", "’"):
        if word.endswith(ending) and len(word) > len(ending):
            return word[: -len(ending)], True
    return word, False


def _classify(words: Sequence[str]) -> Kind:
    lowered = [w.lower().rstrip(".") for w in words]
    if lowered[0] in HONORIFICS:
        return "person"
    if any(w in _COMPANY_WORDS for w in lowered):
        return "thing"
    if 2 <= len(words) <= 4 and not any(w.isupper() and len(w) > 1 for w in words):
        return "person"
    return "thing"


def find_names(text: str) -> list[_Name]:
    """The names in ``text``, in order of appearance.

    >>> [(n.text, n.kind) for n in find_names("When did Lei Jun found Xiaomi?")]
    [('Lei Jun', 'person'), ('Xiaomi', 'thing')]
    """
    text = CITATION_MARKER.sub(" ", text)
    runs: list[list[str]] = []
    run: list[str] = []
    previous_end = -1
    for match in _TOKEN.finditer(text):
        word, possessive = _strip_possessive(match.group())
        gap = text[previous_end : match.start()] if previous_end >= 0 else ""
        lowered = word.lower()
        capitalised = word[:1].isupper() and (lowered in HONORIFICS or lowered not in NOT_NAMES)
        joins = gap == " " or (gap == ". " and bool(run) and run[-1].lower() in HONORIFICS)
        if run and (not capitalised or not joins):
            runs.append(run)
            run = []
        if capitalised:
            run.append(word)
        if possessive and run:
            runs.append(run)
            run = []
        previous_end = match.end()
    if run:
        runs.append(run)

    names = []
    for words in runs:
        bare = words[1:] if words[0].lower() in HONORIFICS else words
        if bare and not {w.lower() for w in bare} <= _COMPANY_WORDS:
            names.append(_Name(" ".join(bare), _classify(words)))
    return names


_PRONOUNS: tuple[tuple[Kind, dict[str, str]], ...] = (
    ("person", _PERSON_PRONOUNS),
    ("thing", _THING_PRONOUNS),
    ("group", _GROUP_PRONOUNS),
)


def _pronoun(word: str) -> tuple[Kind, str] | None:
    """The kind of a pronoun and how its replacement is written."""
    lowered = word.lower()
    for kind, table in _PRONOUNS:
        if lowered in table:
            return kind, table[lowered]
    return None


def _antecedent(wanted: Sequence[Kind], history: Sequence[tuple[str, str]]) -> str | None:
    for name_kind in wanted:
        for question, answer in reversed(history):
            for name in [*find_names(question), *find_names(answer)]:
                if name.kind == name_kind:
                    return name.text
    return None


def _wanted(kind: Kind, own_kinds: set[Kind]) -> tuple[Kind, ...]:
    """The kinds of name a pronoun may stand for, given the names the question
    already has (a pronoun whose kind of name is in the question points there)."""
    if kind == "group":
        return (
            ()
            if "thing" in own_kinds
            else ("thing",)
            if "person" in own_kinds
            else ("thing", "person")
        )
    return () if kind in own_kinds else (kind,)


def rewrite_query(question: str, history: Sequence[tuple[str, str]]) -> str:
    """``question`` with its pronouns replaced by the names they stand for.

    ``history`` is the earlier turns as ``(question, answer)`` pairs, oldest
    first. With nothing to resolve, the question comes back unchanged.

    >>> rewrite_query("When did he join Kingsoft?", [("Who is Lei Jun?", "The founder of Xiaomi.")])
    'When did Lei Jun join Kingsoft?'
    """
    if not history or not question.strip():
        return question
    own_kinds: set[Kind] = {name.kind for name in find_names(question)}
    tokens = list(_TOKEN.finditer(question))
    replacements: list[tuple[int, int, str]] = []
    done: set[Kind] = set()

    for index, match in enumerate(tokens):
        found = _pronoun(match.group())
        if found is None:
            continue
        kind, form = found
        following = tokens[index + 1].group().lower() if index + 1 < len(tokens) else ""
        if kind == "thing" and form == "name" and following in _EXPLETIVE_AFTER:
            continue
        if (
            kind == "thing"
            and form == "name"
            and following in {"is", "was", "'s"}
            and index + 2 < len(tokens)
            and tokens[index + 2].group().lower() in _EXPLETIVE_AFTER
        ):
            continue
        wanted = _wanted(kind, own_kinds)
        if kind in done or not wanted:
            continue
        name = _antecedent(wanted, history)
        if name is None:
            continue
        if form == "her":
            rest = question[match.end() :]
            form = (
                "possessive"
                if following and following not in _NOT_NOUNS and rest.startswith(" ")
                else "name"
            )
        replacements.append(
            (match.start(), match.end(), f"{name}'s" if form == "possessive" else name)
        )
        done.add(kind)

    if "thing" not in done and "thing" not in own_kinds:
        phrase = _THING_PHRASE.search(question)
        if phrase:
            name = _antecedent(("thing",), history)
            if name is not None:
                replacements.append((phrase.start(), phrase.end(), name))

    rewritten = question
    for start, end, text in sorted(replacements, reverse=True):
        rewritten = rewritten[:start] + text + rewritten[end:]
    return rewritten
