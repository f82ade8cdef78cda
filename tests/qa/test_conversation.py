"""Tests for qa.conversation: follow-up questions made self-contained for retrieval."""

from __future__ import annotations

import pytest

from qa.conversation import find_names, rewrite_query

LEI_JUN = [("Who is Lei Jun?", "Lei Jun is the founder of Xiaomi [1].")]
XIAOMI_FOUNDED = [("When did Lei Jun found Xiaomi?", "Lei Jun founded Xiaomi in 2010 [1].")]
BIRTH = [("Where was Lei Jun born?", "Lei Jun was born in Xiantao, Hubei, China [1].")]
ABSTAINED = [("What is Lei Jun's favourite food?", "The documents don't say.")]


@pytest.mark.parametrize(
    ("question", "history", "expected"),
    [
        # The example, and the other person pronouns.
        ("When did he join Kingsoft?", LEI_JUN, "When did Lei Jun join Kingsoft?"),
        ("When was she born?", LEI_JUN, "When was Lei Jun born?"),
        ("Who hired him?", LEI_JUN, "Who hired Lei Jun?"),
        ("What is his net worth?", LEI_JUN, "What is Lei Jun's net worth?"),
        ("His hometown?", LEI_JUN, "Lei Jun's hometown?"),
        ("What did he call himself?", LEI_JUN, "What did Lei Jun call himself?"),
        ("Where did her company start?", LEI_JUN, "Where did Lei Jun's company start?"),
        ("Who taught her?", LEI_JUN, "Who taught Lei Jun?"),
        ("Who gave her to him?", LEI_JUN, "Who gave Lei Jun to him?"),
        # Things: it, its, they, and "the company".
        ("When was it founded?", XIAOMI_FOUNDED, "When was Xiaomi founded?"),
        ("What are its main products?", XIAOMI_FOUNDED, "What are Xiaomi's main products?"),
        ("When did they go public?", XIAOMI_FOUNDED, "When did Xiaomi go public?"),
        ("What did their first phone cost?", XIAOMI_FOUNDED, "What did Xiaomi's first phone cost?"),
        ("When was the company founded?", LEI_JUN, "When was Xiaomi founded?"),
        ("The firm was based where?", LEI_JUN, "Xiaomi was based where?"),
        ("How big is this company?", LEI_JUN, "How big is Xiaomi?"),
        # A person and a thing in one follow-up.
        ("When did he found it?", XIAOMI_FOUNDED, "When did Lei Jun found Xiaomi?"),
        ("Did he leave the company?", XIAOMI_FOUNDED, "Did Lei Jun leave Xiaomi?"),
        # The person comes from the answer when the question has none.
        (
            "When was he born?",
            [("Who founded Xiaomi?", "Lei Jun founded Xiaomi in 2010 [1].")],
            "When was Lei Jun born?",
        ),
        # The latest turn wins; older turns are searched when it has no fitting name.
        (
            "When was he born?",
            [*LEI_JUN, ("Who did Xiaomi compete with?", "Apple [1].")],
            "When was Lei Jun born?",
        ),
        (
            "When was he born?",
            [*LEI_JUN, ("Who is Elon Musk?", "Elon Musk is an EV entrepreneur [1].")],
            "When was Elon Musk born?",
        ),
        (
            "What does it sell?",
            [*XIAOMI_FOUNDED, ("When did he join Kingsoft?", "In 1992 [1].")],
            "What does Kingsoft sell?",
        ),
        # An abstention holds no names: look further back.
        ("Where was he born?", [*LEI_JUN, *ABSTAINED], "Where was Lei Jun born?"),
        # Honorifics and company words.
        ("When was he born?", [("Who is Mr. Lei?", "")], "When was Lei born?"),
        (
            "When was it founded?",
            [("Where did Lei Jun study?", "At Wuhan University [1].")],
            "When was Wuhan University founded?",
        ),
        # Nothing to resolve: the question comes back unchanged.
        ("When was Lei Jun born?", LEI_JUN, "When was Lei Jun born?"),
        ("What is Xiaomi's vision statement?", LEI_JUN, "What is Xiaomi's vision statement?"),
        ("When did he join Kingsoft?", [], "When did he join Kingsoft?"),
        ("", LEI_JUN, ""),
        ("When did he join Kingsoft?", ABSTAINED[1:], "When did he join Kingsoft?"),
        ("When did he join Kingsoft?", [("Hello?", "Hi.")], "When did he join Kingsoft?"),
        # The pronoun's kind of name is already in the question: it points there.
        (
            "Where was Lei Jun born and where did he study?",
            LEI_JUN,
            "Where was Lei Jun born and where did he study?",
        ),
        (
            "When did Kingsoft go public and who ran it?",
            LEI_JUN,
            "When did Kingsoft go public and who ran it?",
        ),
        ("When did they hire Lei Jun?", XIAOMI_FOUNDED, "When did Xiaomi hire Lei Jun?"),
        # "it" with nothing to point at.
        (
            "How long did it take to build the SU7?",
            XIAOMI_FOUNDED,
            "How long did it take to build the SU7?",
        ),
        ("Is it true that he studied?", LEI_JUN, "Is it true that Lei Jun studied?"),
        ("Was it known that he coded?", LEI_JUN, "Was it known that Lei Jun coded?"),
        # Only a person pronoun, but only things in the history.
        ("When was he born?", [("What is Xiaomi?", "A company.")], "When was he born?"),
        # Words that merely contain a pronoun are not pronouns.
        ("What is the theme of this hit?", LEI_JUN, "What is the theme of this hit?"),
        ("Where is Hebei?", LEI_JUN, "Where is Hebei?"),
        # Unicode and odd input survive.
        ("他 when did he start?", LEI_JUN, "他 when did Lei Jun start?"),
        ("When did he join Kingsoft? 🚀", LEI_JUN, "When did Lei Jun join Kingsoft? 🚀"),
    ],
)
def test_rewrite_query(question: str, history: list[tuple[str, str]], expected: str) -> None:
    assert rewrite_query(question, history) == expected


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("When did Lei Jun found Xiaomi?", [("Lei Jun", "person"), ("Xiaomi", "thing")]),
        (
            "Lei Jun was born on December 16, 1969, in Xiantao, Hubei, China [1].",
            [("Lei Jun", "person"), ("Xiantao", "thing"), ("Hubei", "thing"), ("China", "thing")],
        ),
        ("He founded Xiaomi Technology Co. Ltd. in 2010.", [("Xiaomi Technology Co", "thing")]),
        ("Steve Jobs's book", [("Steve Jobs", "person")]),
        ("Mr Lei Jun met Dr. Smith.", [("Lei Jun", "person"), ("Smith", "person")]),
        ("WPS and MIUI", [("WPS", "thing"), ("MIUI", "thing")]),
        ("The documents don't say. The closest passages are listed below.", []),
        ("In March, When and Where?", []),
        ("", []),
        ("no capitals here at all", []),
    ],
)
def test_find_names(text: str, names: list[tuple[str, str]]) -> None:
    assert [(n.text, n.kind) for n in find_names(text)] == names


def test_rewrite_is_idempotent_on_its_output() -> None:
    once = rewrite_query("When did he join Kingsoft?", LEI_JUN)
    assert rewrite_query(once, LEI_JUN) == once


def test_long_history_is_fine() -> None:
    history = [(f"Question {i} about Xiaomi?", f"Answer {i}.") for i in range(500)] + LEI_JUN
    assert rewrite_query("When did he join Kingsoft?", history) == "When did Lei Jun join Kingsoft?"
