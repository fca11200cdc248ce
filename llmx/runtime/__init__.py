"""Config, model clients, the turn loop, tools, approvals and escalation."""
