"""docket chat: a conversation with your documents, resumable."""

from __future__ import annotations

from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from docket.cli.common import (
    ConfigOption,
    HomeOption,
    JsonOption,
    ModelOption,
    ShowPromptOption,
    Streamer,
    console,
    emit_json,
    handle_errors,
    open_kb,
    prompt_printer,
)
from docket.cli.search import print_answer

HELP = "Type a question. /new starts a new conversation, /history shows this one, /exit (or Ctrl-D) leaves."


@handle_errors
def chat(
    message: Annotated[
        str | None, typer.Option("--message", "-m", help="Send one message and exit, instead of the prompt loop.")
    ] = None,
    resume: Annotated[str | None, typer.Option("--resume", help="Continue the conversation with this id.")] = None,
    list_: Annotated[bool, typer.Option("--list", help="List stored conversations and exit.")] = False,
    model: ModelOption = None,
    show_prompt: ShowPromptOption = False,
    home: HomeOption = None,
    config: ConfigOption = None,
    as_json: JsonOption = False,
) -> None:
    """Chat with your documents: follow-up questions are understood in context, and every
    conversation is stored so it can be resumed."""
    with open_kb(home, config) as kb:
        if list_:
            _list(kb.ledger.conversations(limit=50), as_json)
            return
        conversation = resume
        if conversation is not None:
            turns = kb.ledger.conversation(conversation)  # fails clearly on an unknown id
            if message is None and not as_json:
                _history(turns)
        if message is not None:
            _turn(kb, message, conversation, model, show_prompt, as_json)
            return
        console.print(f"[dim]{HELP}[/]")
        while True:
            try:
                line = console.input("[bold cyan]you>[/] ").strip()
            except EOFError:
                console.print()
                return
            if not line:
                continue
            if line in ("/exit", "/quit"):
                return
            if line == "/new":
                conversation = None
                console.print("[dim]New conversation.[/]")
                continue
            if line == "/history":
                _history(kb.ledger.conversation(conversation) if conversation else [])
                continue
            conversation = _turn(kb, line, conversation, model, show_prompt, as_json)


def _turn(kb: Any, message: str, conversation: str | None, model: str | None, show: bool, as_json: bool) -> str:
    streamer = Streamer()
    live = not as_json and console.is_terminal
    reply = kb.chat(
        message,
        conversation=conversation,
        model=model,
        stream=streamer if live else None,
        on_prompt=prompt_printer(show),
    )
    if as_json:
        emit_json(
            {
                "conversation": reply.conversation,
                "message": reply.message,
                "query": reply.query,
                **reply.answer.to_dict(),
            }
        )
        return str(reply.conversation)
    if reply.query != message.strip():
        console.print(f"[dim]Searched for: {escape(reply.query)}[/]", highlight=False)
    streamer.end()
    print_answer(reply.answer, text_shown=streamer.text == reply.answer.text)
    if conversation is None:
        console.print(
            f"[dim]Conversation {reply.conversation} · resume with: docket chat --resume {reply.conversation}[/]"
        )
    console.print()
    return str(reply.conversation)


def _history(turns: list[dict[str, Any]]) -> None:
    for turn in turns:
        console.print(f"[bold cyan]you>[/] {escape(turn['question'])}", highlight=False)
        console.print(turn["answer"], markup=False, highlight=False)
        console.print()


def _list(conversations: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        emit_json(conversations)
        return
    if not conversations:
        console.print("No conversations yet. Start one with: docket chat")
        return
    from datetime import datetime

    table = Table()
    table.add_column("id")
    table.add_column("last used")
    table.add_column("turns", justify="right")
    table.add_column("first question")
    for c in conversations:
        when = datetime.fromtimestamp(c["updated"]).strftime("%Y-%m-%d %H:%M")
        table.add_row(c["id"], when, str(c["turns"]), escape(c["title"]))
    console.print(table)
