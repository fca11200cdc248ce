"""The runtime: one door to agent threads for every frontend.

Every frontend (``llmx exec``, the TUI, the app-server, an MCP server) runs agent threads
through a :class:`ThreadManager` and nothing else: it opens a new thread, resumes or
forks a recorded one, submits ``Op``s, reads the thread's events from a subscription and
closes it. The manager resolves the configuration from the frontend's flags (given as
:class:`ThreadOptions`), the sandbox, the rollout log, ``history.jsonl``, the session
index and the model client; a frontend only parses its input and renders projections of
the events it read. Approval requests are events like any other: the frontend answers
one by submitting a decision, which is logged (with who decided) before it is acted on.

One turn, as ``llmx exec`` runs it::

    async with ThreadManager(originator="llmx_exec", source="exec") as manager:
        thread = await manager.open(ThreadOptions(cwd=Path.cwd()))
        events = thread.subscribe()                 # live, from now on
        await thread.submit(thread.user_turn([TextInput(text="say hi")]))
        closing = asyncio.create_task(thread.close())   # shutdown after the turn
        async for line in events:                   # ends when the thread closes
            if (request := thread.approval_request(line)) is not None:
                await thread.submit(ExecApproval(id=request.call_id, decision="denied"))
            render(line)
        await closing

A TUI holds one manager for the whole process and opens, resumes and forks threads in it
over time (``await manager.resume(ThreadRef.last(), options)``; ``manager.fork(...)``),
showing the history of a resumed thread with ``thread.subscribe(from_position=0)``,
which reads the rollout file and then continues live without a gap or a duplicate.

An app-server holds one manager per connection and runs several threads in it at once,
each writing its own rollout; each client subscription is ``thread.subscribe(...)``,
from the position the client last saw (``thread.position`` is the next one), and
``thread/interrupt`` is ``thread.submit(Interrupt())``. An MCP server's tool call is one
thread: ``open``, ``submit`` the prompt, read the events to the turn's end, ``close``.

Setup problems raise :class:`ThreadError` (what happened, what to do, and the ``OSError``
behind it), which each frontend prints in its own form.
"""

from llmx.runtime.threads.errors import ThreadError
from llmx.runtime.threads.lookup import RefKind, ThreadRef
from llmx.runtime.threads.manager import ThreadManager
from llmx.runtime.threads.options import ThreadOptions, UntrustedDirectory
from llmx.runtime.threads.stream import ThreadEvents
from llmx.runtime.threads.thread import AgentThread, RevertFailed, ThreadOutcome

__all__ = [
    "AgentThread",
    "RefKind",
    "RevertFailed",
    "ThreadError",
    "ThreadEvents",
    "ThreadManager",
    "ThreadOptions",
    "ThreadOutcome",
    "ThreadRef",
    "UntrustedDirectory",
]
