"""docket summarize: whole documents, read end to end."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

import typer

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    ModelOption,
    ShowPromptOption,
    Streamer,
    console,
    emit_json,
    err_console,
    handle_errors,
    open_kb,
    prompt_printer,
)
from docket.cli.search import print_answer


def progress_printer(enabled: bool) -> Callable[[int, int, str], None]:
    def report(done: int, total: int, label: str) -> None:
        if enabled:
            err_console.print(f"[dim]{done}/{total} {label}[/]", highlight=False)

    return report


@handle_errors
def summarize(
    files: Annotated[list[str], typer.Argument(help="Indexed document paths (or their ends), or files on disk.")],
    model: ModelOption = None,
    show_prompt: ShowPromptOption = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Summarise whole documents with citations to their sections (map-reduce over every part
    with a model; the most representative sentences without one)."""
    streamer = Streamer()
    live = not as_json and console.is_terminal
    with open_kb(home, config) as kb:
        answer = kb.summarize(
            files,
            model=model,
            stream=streamer if live else None,
            on_prompt=prompt_printer(show_prompt),
            progress=progress_printer(live),
        )
    if as_json:
        emit_json(answer.to_dict())
        return
    streamer.end()
    print_answer(answer, text_shown=streamer.text == answer.text)
