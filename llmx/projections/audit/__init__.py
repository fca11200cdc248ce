"""The audit of a session: what happened in each turn, and on whose authority.

``fold`` reads a rollout into an ``AuditReport`` (``audit_rollout``); ``rules`` derives
each turn's approvals and sandbox from its lines, with ``infer`` for the approvals a log
does not record; ``model`` holds the report's types and filters; ``render`` prints it
(``llmx inspect --audit``).
"""
