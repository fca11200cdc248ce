"""MCP: the tools of the servers configured in ``[mcp_servers]``.

``config`` reads and checks a server's table (no SDK needed); ``connections`` starts the
servers with the ``mcp`` SDK, which is imported there alone and only when servers are
configured; ``offer`` and ``calls`` are what a turn uses: the tools offered to the model
and the calls it makes.
"""
