"""Model clients: one request in, the normalised stream of ``stream.py`` out.

The turn loop opens a client with :func:`~llmx.runtime.models.wires.open_model_client`,
sends a :class:`~llmx.runtime.models.request.ModelRequest` and reads the events of
:mod:`~llmx.runtime.models.stream`; the wire formats (Responses API, Chat Completions)
stay inside this package. Nothing is imported here (the HTTP client would come with it):
each user names the module it needs.
"""
