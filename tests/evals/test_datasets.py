"""Test sets: the formats, the errors that name file, line and field, BEIR folders, round trips."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from docket.errors import PathNotFoundError, UserError
from docket.evals.datasets import (
    EvalItem,
    SourceRef,
    TestSet,
    beir_file_name,
    load_test_set,
    save_test_set,
    write_beir_corpus,
)
from docket.ingest.parsers import parse_bytes

YAML_SET = """\
name: handbook
questions:
  - question: How many weeks of paid parental leave does Clef offer?
    answer: 12 weeks
    sources:
      - Benefits and Perks/New Parent Leave.md
  - id: remote
    question: Can I work from home?
    sources:
      - path: Employment Policies/Working Remotely.md
        location: Scope
      - "Policy Changes.md#Continuing Work"
  - question: What is the capital of Australia?
    unanswerable: true
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_yaml_rows_with_sources_as_files_mappings_and_text(tmp_path: Path) -> None:
    test_set = load_test_set(_write(tmp_path, "set.yml", YAML_SET))
    assert test_set.name == "handbook"
    first, remote, off = test_set.items
    assert first == EvalItem(
        id="q1",
        question="How many weeks of paid parental leave does Clef offer?",
        answer="12 weeks",
        sources=(SourceRef("Benefits and Perks/New Parent Leave.md"),),
    )
    assert remote.id == "remote"
    assert remote.sources == (
        SourceRef("Employment Policies/Working Remotely.md", "Scope"),
        SourceRef("Policy Changes.md", "Continuing Work"),
    )
    assert off.unanswerable and not off.sources and off.id == "q3"


def test_yaml_values_are_read_as_text_as_written(tmp_path: Path) -> None:
    test_set = load_test_set(_write(tmp_path, "set.yml", "- id: off\n  question: What is the fee?\n  answer: 1.50\n"))
    assert test_set.items[0].id == "off" and test_set.items[0].answer == "1.50"


def test_a_top_level_list_csv_and_jsonl_read_the_same(tmp_path: Path) -> None:
    listed = load_test_set(
        _write(tmp_path, "list.yaml", "- question: Q one?\n  answer: A\n  sources: a.md; b.md#p. 3\n")
    )
    csv_set = load_test_set(
        _write(tmp_path, "set.csv", 'question,answer,sources,unanswerable\n"Q one?",A,a.md; b.md#p. 3,\nQ two?,,,yes\n')
    )
    jsonl = load_test_set(
        _write(
            tmp_path,
            "set.jsonl",
            '{"question": "Q one?", "answer": "A", "sources": ["a.md", {"path": "b.md", "location": "p. 3"}]}\n\n'
            '{"question": "Q two?", "unanswerable": true}\n',
        )
    )
    expected = EvalItem("q1", "Q one?", "A", (SourceRef("a.md"), SourceRef("b.md", "p. 3")))
    assert listed.items == (expected,)
    assert csv_set.items[0] == expected and jsonl.items[0] == expected
    assert csv_set.items[1] == jsonl.items[1] == EvalItem("q2", "Q two?", unanswerable=True)


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        (
            "set.yml",
            "questions:\n  - question: ok?\n  - answer: no question here\n",
            "set.yml, line 3: field 'question'",
        ),
        ("set.yml", "- question: ok?\n  unanswerable: perhaps\n", "set.yml, line 2: field 'unanswerable'"),
        ("set.yml", "- question: ok?\n  anwser: typo\n", "set.yml, line 2: field 'anwser': unknown field"),
        ("set.yml", "- question: ok?\n  sources:\n    - {file: a.md}\n", "set.yml, line 2: field 'sources'"),
        ("set.yml", "- question: [unclosed\n", "set.yml, line 2: not valid YAML"),
        ("set.yml", "- id: 1\n  question: a?\n- id: 1\n  question: b?\n", "set.yml, line 3: field 'id'"),
        ("set.jsonl", '{"question": "ok?"}\n{"question": ""}\n', "set.jsonl, line 2: field 'question'"),
        ("set.jsonl", '{"question": "ok?"}\n{"question": \n', "set.jsonl, line 2: not valid JSON"),
        ("set.csv", "question,answer\nok?,yes\n,no question\n", "set.csv, line 3: field 'question'"),
        ("set.csv", "question,comment\nok?,x\n", "set.csv, line 1: unknown column 'comment'"),
        ("set.csv", "question,unanswerable\nok?,maybe\n", "set.csv, line 2: field 'unanswerable'"),
        ("set.yml", "- question: ok?\n  unanswerable: true\n  sources: a.md\n", "set.yml, line 3: field 'sources'"),
    ],
)
def test_a_malformed_row_names_file_line_and_field(tmp_path: Path, name: str, text: str, expected: str) -> None:
    with pytest.raises(UserError) as caught:
        load_test_set(_write(tmp_path, name, text))
    assert expected in str(caught.value)


def test_unknown_formats_and_missing_files_say_what_is_accepted(tmp_path: Path) -> None:
    with pytest.raises(UserError, match=r"\.yml, \.yaml, \.json, \.jsonl, \.csv"):
        load_test_set(_write(tmp_path, "set.txt", "question"))
    with pytest.raises(PathNotFoundError):
        load_test_set(tmp_path / "nope.yml")
    with pytest.raises(UserError, match="no questions"):
        load_test_set(_write(tmp_path, "empty.yml", "questions: []\n"))


@pytest.mark.parametrize("suffix", [".yml", ".json", ".jsonl", ".csv"])
def test_save_then_load_gives_the_same_set(tmp_path: Path, suffix: str) -> None:
    original = TestSet(
        name="t",
        items=(
            EvalItem(
                "g001",
                'What does X say, "quoted"?',
                "An answer; with a semicolon.",
                (SourceRef("a/b.md", "A › B"),),
                generated=True,
            ),
            EvalItem("g002", "Two?", None, (SourceRef("c.md"), SourceRef("d.pdf", "p. 3"))),
            EvalItem("u001", "Off topic?", unanswerable=True, generated=True),
        ),
    )
    path = save_test_set(original, tmp_path / f"set{suffix}")
    loaded = load_test_set(path)
    assert loaded.items == original.items
    if suffix in (".yml", ".json"):
        assert loaded.name == "t"


def _beir(tmp_path: Path) -> Path:
    folder = tmp_path / "mini"
    (folder / "qrels").mkdir(parents=True)
    (folder / "corpus.jsonl").write_text(
        '{"_id": "d1", "title": "Wings", "text": "Lift of a wing in a slipstream."}\n'
        '{"_id": "d/2", "title": "", "text": "Heat transfer in slabs."}\n'
        '{"_id": "d3", "title": "", "text": ""}\n'
    )
    (folder / "queries.jsonl").write_text(
        '{"_id": "1", "text": "wing lift"}\n{"_id": "2", "text": "heat"}\n{"_id": "3", "text": "unjudged"}\n'
    )
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t3\n1\td/2\t1\n2\td/2\t1\n2\td1\t0\n")
    return folder


def test_a_beir_folder_is_a_set_whose_sources_are_the_judged_documents_files(tmp_path: Path) -> None:
    test_set = load_test_set(_beir(tmp_path))
    assert test_set.name == "mini" and test_set.corpus == tmp_path / "mini" / "corpus.jsonl"
    assert [i.id for i in test_set.items] == ["1", "2"]  # queries with a positive judgement, in qrels order
    assert test_set.items[0].sources == (SourceRef("d1.md", relevance=3), SourceRef("d_2.md"))
    assert test_set.items[1].sources == (SourceRef("d_2.md"),)
    assert beir_file_name("d/2") == "d_2.md"
    with pytest.raises(UserError, match=r"no qrels/dev\.tsv; splits: test"):
        load_test_set(tmp_path / "mini", split="dev")


def test_a_beir_qrels_line_without_a_score_names_the_line(tmp_path: Path) -> None:
    folder = _beir(tmp_path)
    (folder / "qrels" / "test.tsv").write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n2\td1\n")
    with pytest.raises(UserError, match=r"test.tsv, line 3"):
        load_test_set(folder)


def test_beir_documents_are_written_as_files_that_parse_to_title_and_text(tmp_path: Path) -> None:
    folder = _beir(tmp_path)
    out = tmp_path / "corpus"
    assert write_beir_corpus(folder / "corpus.jsonl", out) == 2  # d3 has no text at all
    assert sorted(p.name for p in out.iterdir()) == ["d1.md", "d_2.md"]
    parsed = parse_bytes((out / "d1.md").read_bytes(), "d1.md")
    assert parsed.title == "Wings"
    assert [b.text for b in parsed.blocks] == ["Lift of a wing in a slipstream."]
    assert all(b.heading_path == () for b in parsed.blocks)
    assert write_beir_corpus(folder / "corpus.jsonl", out) == 0  # up to date: nothing rewritten
    (folder / "corpus.jsonl").write_text('{"_id": "d1", "title": "Wings", "text": "Changed."}\n')
    assert write_beir_corpus(folder / "corpus.jsonl", out) == 1
    assert [p.name for p in out.iterdir()] == ["d1.md"]  # the document no longer in the corpus is gone


def test_the_shared_cranfield_folder_loads_with_graded_judgements(shared_data: Path) -> None:
    test_set = load_test_set(shared_data / "classic-ir" / "cranfield")
    assert len(test_set.items) == 225
    grades = {s.relevance for item in test_set.items for s in item.sources}
    assert grades <= {1, 2, 3, 4} and len(grades) > 1
    first = (shared_data / "classic-ir" / "cranfield" / "queries.jsonl").read_text().splitlines()[0]
    assert test_set.items[0].question == json.loads(first)["text"]
