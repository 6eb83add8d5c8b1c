"""docket mcp: the MCP server over stdio, for desktop clients (Claude Desktop, IDEs, agent SDKs).

Without an API key it acts as the local owner, like every other command, and sees every workspace;
with ``--api-key`` (or ``DOCKET_API_KEY``) it acts as that key's principal — the key is checked
again on every call, so revoking it or changing its user's workspaces takes effect at once. The
same tools are served at ``/mcp`` by ``docket serve`` (docs/agents.md).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from docket.cli.common import ConfigOption, HomeOption, handle_errors, settings_from

ApiKeyOption = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar="DOCKET_API_KEY",
        help="Act as this API key's user (docket keys create), within its workspaces; default: the local owner.",
        show_default=False,
    ),
]


@handle_errors
def mcp(api_key: ApiKeyOption = None, home: HomeOption = None, config: ConfigOption = None) -> None:
    """Serve Docket's tools and documents to an MCP client over stdio (docs/agents.md)."""
    import importlib.util

    from docket.errors import MissingExtraError

    for module, extra in (("fastapi", "server"), ("argon2", "server"), ("mcp", "mcp")):
        if importlib.util.find_spec(module) is None:
            raise MissingExtraError(module, extra, "docket mcp")
    from docket.server.deps import build_state
    from docket.server.mcp.server import build_server
    from docket.server.mcp.tools import LocalOwner

    st = build_state(settings_from(home, config))
    try:
        if api_key:
            key = api_key.strip()
            st.accounts.principal_for_key(key)  # a wrong key stops here, with the message saying why

            def caller_of(_ctx: Any) -> Any:
                return st.accounts.principal_for_key(key)
        else:
            owner = LocalOwner()

            def caller_of(_ctx: Any) -> Any:
                return owner

        _ = st.kb.embedder  # load the model now, not during the first call
        build_server(st, caller_of).run("stdio")
    finally:
        st.kb.close()
        st.accounts.close()
