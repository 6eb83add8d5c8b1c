"""Generated answers: citations checked against the sources, abstention, fallback. Real embedder,
scripted model (the HTTP providers are tested against real servers in tests/models)."""

from __future__ import annotations

import pytest

from docket.answer.extractive import ABSTAIN_TEXT
from docket.answer.grounded import UNVERIFIED, check_citations, grounded_answer
from docket.errors import ModelNotConfiguredError
from docket.models.chat import FakeChatModel, chat_model_from_spec
from docket.types import Hit, Location

HITS = [
    Hit(
        1,
        "d1",
        "s",
        "leave.md",
        "Leave",
        "New parents get 12 weeks of paid leave. It must be taken within a year.",
        Location(char_start=100),
        0.9,
    ),
    Hit(
        2,
        "d2",
        "s",
        "travel.md",
        "Travel",
        "Book flights through the travel portal. Economy class is standard.",
        Location(char_start=0),
        0.7,
    ),
]


def test_a_correct_citation_is_supported_and_quotes_its_sentence(minilm) -> None:
    text, citations, notes = check_citations("Parents get 12 weeks of paid leave [1].", HITS, minilm)
    assert text == "Parents get 12 weeks of paid leave [1]."
    assert [(c.n, c.supported) for c in citations] == [(1, True)]
    assert citations[0].quote == "New parents get 12 weeks of paid leave."
    assert citations[0].location.char_start == 100 and notes == []


def test_citations_to_sources_not_given_are_removed(minilm) -> None:
    text, citations, notes = check_citations("Parents get 12 weeks of leave [1][7].", HITS, minilm)
    assert "[7]" not in text and "[1]" in text
    assert [c.n for c in citations] == [1]
    assert "[7]" in notes[0]


def test_a_sentence_citing_an_unrelated_source_is_marked_unsupported(minilm) -> None:
    text, citations, notes = check_citations("Parents get 12 weeks of paid leave [2].", HITS, minilm)
    assert [(c.n, c.supported) for c in citations] == [(2, False)]
    assert any("could not be matched" in note for note in notes)
    assert text == "Parents get 12 weeks of paid leave (unverified) [2]."  # never shown as plain fact


def test_generated_answer_carries_model_usage_and_checked_citations(minilm) -> None:
    model = FakeChatModel(replies=["New parents get twelve weeks of paid leave. [1]"])
    answer = grounded_answer("How long is parental leave?", HITS, model, minilm)
    assert not answer.abstained and answer.method == "generated"
    assert answer.model == "fake:fake" and answer.usage and answer.usage.completion_tokens > 0
    assert answer.citations[0].supported is True
    d = answer.to_dict()
    assert {"model", "usage"} <= set(d) and set(d["usage"]) == {"prompt_tokens", "completion_tokens", "cost"}
    assert d["citations"][0]["supported"] is True


def test_the_model_decides_with_weak_evidence_and_its_unsupported_claims_are_marked(minilm) -> None:
    model = FakeChatModel(replies=["Lima is the capital of Peru. [1]"])
    answer = grounded_answer("What is the capital of Peru?", HITS, model, minilm)
    assert len(model.prompts) == 1  # nothing was decided before the model saw the evidence
    assert answer.text == "Lima is the capital of Peru (unverified) [1]."
    assert answer.unsupported == ("Lima is the capital of Peru.",)
    assert [c.supported for c in answer.citations] == [False]


def test_unsupported_claims_beside_supported_ones_are_marked(minilm) -> None:
    model = FakeChatModel(replies=["New parents get 12 weeks of paid leave [1]. Lima is the capital of Peru [1]."])
    answer = grounded_answer("How long is parental leave?", HITS, model, minilm)
    assert not answer.abstained
    assert answer.text == "New parents get 12 weeks of paid leave [1]. Lima is the capital of Peru (unverified) [1]."
    assert answer.unsupported == ("Lima is the capital of Peru.",)
    assert answer.to_dict()["unsupported"] == ["Lima is the capital of Peru."]
    assert [c.supported for c in answer.citations] == [True, False]


def test_the_model_saying_it_does_not_know_is_an_abstention(minilm) -> None:
    model = FakeChatModel(replies=[ABSTAIN_TEXT])
    answer = grounded_answer("How long is parental leave?", HITS, model, minilm)
    assert answer.abstained and answer.citations == ()


def test_unusable_output_is_retried_once_then_falls_back_to_the_extractive_answer(minilm) -> None:
    model = FakeChatModel(replies=["", "Sure! Happy to help with that."])
    answer = grounded_answer("How long is parental leave?", HITS, model, minilm)
    assert len(model.prompts) == 2
    assert answer.method == "extractive" and "12 weeks" in answer.text
    assert "extractive answer instead" in answer.notes[0]


def test_the_prompt_sent_is_reported(minilm) -> None:
    seen = []
    grounded_answer("How long is parental leave?", HITS, FakeChatModel(), minilm, on_prompt=seen.append)
    assert '<source n="1" file="leave.md">' in seen[0].user


def test_no_model_configured_names_the_three_ways_to_set_one() -> None:
    with pytest.raises(ModelNotConfiguredError) as err:
        chat_model_from_spec(None)
    message = str(err.value)
    assert "--model" in message and "DOCKET_MODEL__NAME" in message and "docket.toml" in message


def test_a_failing_model_hands_over_to_the_fallback(minilm) -> None:
    from docket.errors import ModelError
    from docket.models.chat import FallbackChat

    class Down(FakeChatModel):
        def complete(self, prompt, stream=None):  # type: ignore[no-untyped-def]
            raise ModelError("openai:x at http://127.0.0.1:9/v1: cannot reach the server")

    backup = FakeChatModel("backup", replies=["New parents get twelve weeks of paid leave. [1]"])
    answer = grounded_answer("How long is parental leave?", HITS, FallbackChat(Down(), backup), minilm)
    assert answer.model == "fake:backup" and not answer.abstained and len(backup.prompts) == 1


def test_a_reply_without_source_numbers_is_matched_to_its_sources_not_thrown_away(minilm) -> None:
    model = FakeChatModel(replies=["Parents get 12 weeks of paid leave."])
    answer = grounded_answer("How long is parental leave?", HITS, model, minilm)
    assert len(model.prompts) == 1 and answer.method == "generated"
    assert answer.text == "Parents get 12 weeks of paid leave [1]."
    assert [(c.n, c.path, c.supported) for c in answer.citations] == [(1, "leave.md", True)]
    assert any("no source number" in note for note in answer.notes)


def test_an_empty_reply_is_asked_again_and_every_reply_is_reported(minilm) -> None:
    model = FakeChatModel(replies=["", "Parents get 12 weeks of paid leave [1]."])
    prompts, replies = [], []
    answer = grounded_answer(
        "How long is parental leave?", HITS, model, minilm, on_prompt=prompts.append, on_reply=replies.append
    )
    assert answer.citations and answer.citations[0].n == 1
    assert len(prompts) == 2 and "was empty" in prompts[1].user and "was empty" not in prompts[0].user
    assert replies == ["", "Parents get 12 weeks of paid leave [1]."]


def test_a_figure_the_sources_do_not_give_is_marked_unverified(minilm) -> None:
    reply = "Book flights through the travel portal at least 14 days ahead [2]."
    text, citations, notes = check_citations(reply, HITS, minilm)
    assert text == "Book flights through the travel portal at least 14 days ahead (unverified) [2]."
    assert [c.supported for c in citations] == [False]
    assert any("figures not found in the cited sources: 14" in note for note in notes)


def test_a_figure_the_cited_source_states_otherwise_is_removed(minilm) -> None:
    text, citations, notes = check_citations("New parents get 14 weeks of paid leave [1].", HITS, minilm)
    assert text == "" and citations == []
    [note] = notes
    assert note.startswith("removed 1 statement(s): it contradicts the sources")
    assert note.endswith("which say: 'New parents get 12 weeks of paid leave.'")


def test_a_calculation_from_source_figures_is_accepted_when_it_is_right(minilm) -> None:
    source = "Capital expenditure was 1,577 in 2018 and 1,373 in 2017."
    hits = [Hit(1, "d", "s", "cf.pdf", "Cash flows", source, Location(char_start=0), 1.0)]
    claim = "Average capital expenditure over 2017 and 2018 was (1,577 + 1,373) / 2 = {} [1]."
    right, _, _ = check_citations(claim.format("1,475"), hits, minilm)
    wrong, _, _ = check_citations(claim.format("1,500"), hits, minilm)
    assert UNVERIFIED not in right and UNVERIFIED in wrong


def test_a_sentence_that_only_points_at_a_source_lends_its_citation_to_the_claim(minilm) -> None:
    _, citations, _ = check_citations(
        "New parents get 12 weeks of paid leave. This is stated in the source [1].", HITS, minilm
    )
    assert [(c.n, c.supported) for c in citations] == [(1, True)]
    assert citations[0].quote == "New parents get 12 weeks of paid leave."


def test_a_model_sees_only_the_documents_that_have_every_name_the_question_uses(minilm) -> None:
    from docket.answer.evidence import gather

    def hit(n: int, doc: str, text: str) -> Hit:
        return Hit(n, doc, "s", f"{doc}.pdf", doc, text, Location(char_start=0), 1.0)

    death_valley = hit(1, "a", "The Beech A23 nosed down near Stovepipe Wells in Death Valley. Flight time: 119 hours.")
    elsewhere = hit(2, "b", "The Cessna 152 landed hard at Madill. Flight time: 42 hours.")
    partly = hit(3, "c", "A Beech A23 was sold in 2006.")
    question = "How many flight hours did the pilot of the Beech A23 in Death Valley have?"
    assert gather(question, [elsewhere, death_valley, partly], minilm).named_hits() == [death_valley]
    # a comparison: no document names both, so every passage stays
    both = "Compare the Cessna 152 at Madill with the Beech A23 in Death Valley"
    assert gather(both, [elsewhere, death_valley], minilm).named_hits() == [elsewhere, death_valley]
