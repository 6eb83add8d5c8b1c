"""Whole-document tasks: map-reduce over every section with a model, extractive without one.
Real embedder, scripted model."""

from __future__ import annotations

import re

import pytest

from docket.answer.documents import _OVERHEAD_TOKENS, _batches, document_answer
from docket.answer.extractive import ABSTAIN_TEXT
from docket.models.chat import FakeChatModel
from docket.types import Hit, Location

CONTRACT_A = [
    "This agreement between Acme and Beta starts on 1 March 2025 and runs for two years.",
    "Beta pays Acme 4,000 euros per month, invoiced on the first working day of each month.",
    "Either party may terminate the agreement with 90 days written notice.",
    "Acme keeps all intellectual property created under this agreement.",
]
CONTRACT_B = [
    "This agreement between Acme and Gamma starts on 1 June 2025 and runs for one year.",
    "Gamma pays Acme 2,500 euros per month, invoiced quarterly in advance.",
    "Either party may terminate the agreement with 30 days written notice.",
]


def _doc(path: str, texts: list[str], first_id: int) -> list[Hit]:
    return [
        Hit(
            first_id + i, path, "s", path, path, t, Location(heading_path=(f"Clause {i + 1}",), char_start=i * 100), 0.0
        )
        for i, t in enumerate(texts)
    ]


A = _doc("contract-a.md", CONTRACT_A, 1)
B = _doc("contract-b.md", CONTRACT_B, 100)


def test_batches_respect_the_budget_and_keep_order() -> None:
    assert _batches([3, 3, 3, 3], 6) == [range(0, 2), range(2, 4)]
    assert _batches([10, 1], 5) == [range(0, 1), range(1, 2)]  # an oversized item still gets a batch
    assert _batches([], 5) == []


def test_documents_that_fit_are_answered_in_one_call_with_streaming(minilm) -> None:
    model = FakeChatModel(replies=["Either party may end the Beta agreement with 90 days notice [3]."])
    streamed: list[str] = []
    answer = document_answer("What is the notice period?", [A], model, minilm, stream=streamed.append)
    assert len(model.prompts) == 1 and streamed
    assert '<source n="4"' in model.prompts[0].user  # every section is in the prompt
    # the cited section becomes source 1 and the only source
    assert answer.text == "Either party may end the Beta agreement with 90 days notice [1]."
    assert [(c.n, c.path, c.supported) for c in answer.citations] == [(1, "contract-a.md", True)]
    assert [h.chunk_id for h in answer.sources] == [3]
    assert answer.method == "document" and not answer.abstained


def test_long_documents_are_mapped_then_reduced_with_global_section_numbers(minilm) -> None:
    replies = [
        "Beta pays 4,000 euros a month [2].",  # sections 1-2
        "Beta's notice period is 90 days [3].",  # sections 3-4
        "NONE",  # sections 5-6 (contract B) have nothing
        "Gamma has 30 days notice [7].",  # section 7
        "Beta requires 90 days notice [3] while Gamma requires 30 days notice [7].",  # the final answer
    ]
    model = FakeChatModel(replies=replies)
    prompts = []
    progress = []
    answer = document_answer(
        "Compare the notice periods",
        [A, B],
        model,
        minilm,
        budget_tokens=_OVERHEAD_TOKENS + 90,  # two sections per call
        on_prompt=prompts.append,
        progress=lambda done, total, label: progress.append((done, total)),
    )
    assert len(model.prompts) == 5 and prompts == model.prompts
    firsts = [int(m) for p in model.prompts[:4] for m in re.findall(r'<source n="(\d+)"', p.user)[:1]]
    assert firsts == [1, 3, 5, 7]
    final = model.prompts[-1].user
    assert "- Beta's notice period is 90 days [3]." in final and "NONE" not in final
    assert answer.text == "Beta requires 90 days notice [1] while Gamma requires 30 days notice [2]."
    assert [(c.n, c.path) for c in answer.citations] == [(1, "contract-a.md"), (2, "contract-b.md")]
    assert [h.path for h in answer.sources] == ["contract-a.md", "contract-b.md"]
    assert progress[-1][0] == 5
    assert any("5 model call(s)" in n for n in answer.notes)


def test_notes_too_long_for_one_prompt_are_condensed_in_rounds(minilm) -> None:
    long_note = "Beta pays 4,000 euros per month and the agreement runs for two years from March 2025 [2]. " * 6
    replies = [long_note] * 2 + ["condensed [2]."] * 2 + ["Beta pays Acme 4,000 euros per month [2]."]
    model = FakeChatModel(replies=replies)
    answer = document_answer(None, [A], model, minilm, budget_tokens=_OVERHEAD_TOKENS + 90)
    assert [("condense these notes" in p.user) for p in model.prompts] == [False, False, True, True, False]
    assert answer.text == "Beta pays Acme 4,000 euros per month [1]."
    assert answer.question == "Summary of contract-a.md"


def test_a_model_that_finds_nothing_abstains(minilm) -> None:
    model = FakeChatModel(replies=["NONE", "NONE", ABSTAIN_TEXT])
    answer = document_answer("Who is the CEO?", [A], model, minilm, budget_tokens=_OVERHEAD_TOKENS + 90)
    assert answer.abstained and answer.text == ABSTAIN_TEXT


def test_citations_to_unknown_sections_are_dropped_and_unsupported_ones_marked(minilm) -> None:
    model = FakeChatModel(replies=["Beta pays 4,000 euros per month [2][40]. The office has a rooftop garden [1]."])
    answer = document_answer(None, [A], model, minilm)
    assert "[40]" not in answer.text
    assert {c.supported for c in answer.citations} == {True, False}
    assert any("[40]" in n for n in answer.notes)


def test_without_a_model_a_summary_quotes_representative_sentences_in_order(minilm) -> None:
    answer = document_answer(None, [A, B], None, minilm, max_sentences=2)
    paragraphs = answer.text.split("\n\n")
    assert [p.split(":")[0] for p in paragraphs] == ["contract-a.md", "contract-b.md"]
    assert len(answer.citations) == 4
    for c in answer.citations:
        assert c.quote in answer.sources[c.n - 1].text
    # within a document the sentences keep their order
    a_ids = [answer.sources[c.n - 1].chunk_id for c in answer.citations if c.path == "contract-a.md"]
    assert a_ids == sorted(a_ids)
    assert answer.model is None and "no model" in answer.notes[0]


def test_without_a_model_a_question_quotes_each_document(minilm) -> None:
    answer = document_answer("How much notice is needed to terminate?", [A, B], None, minilm)
    assert "90 days" in answer.text and "30 days" in answer.text
    assert {c.path for c in answer.citations} == {"contract-a.md", "contract-b.md"}


@pytest.mark.parametrize("model", [None, FakeChatModel()])
def test_empty_documents_say_so(minilm, model) -> None:
    answer = document_answer(None, [[]], model, minilm)
    assert answer.abstained and "no text" in answer.text


def test_condensing_stops_after_a_few_rounds_even_if_notes_do_not_shrink(minilm) -> None:
    stubborn = "Beta pays 4,000 euros per month and the agreement runs for two years from March 2025 [2]. " * 6

    class Stubborn(FakeChatModel):
        def complete(self, prompt, stream=None):  # type: ignore[no-untyped-def]
            self.replies = [stubborn]
            return super().complete(prompt, stream)

    model = Stubborn()
    answer = document_answer(None, [A], model, minilm, budget_tokens=_OVERHEAD_TOKENS + 90)
    assert len(model.prompts) == 2 + 3 * 2 + 1  # 2 maps, 3 rounds of 2 condensations, the final call
    assert not answer.abstained
