"""Docket as an MCP server (``pip install 'docket[mcp]'``): :mod:`.tools` does the work of each tool
as the calling principal, :mod:`.server` registers the tools and resources with the ``mcp`` SDK,
:mod:`.http` serves them at ``/mcp`` in ``docket serve``; ``docket mcp`` serves them over stdio.
See docs/agents.md."""
