"""``llmx mcp-server``: the MCP SDK's server with llmx's threads behind its tools."""
