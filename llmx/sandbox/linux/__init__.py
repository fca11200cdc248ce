"""Kernel enforcement of a ``ConfinementPlan`` on Linux.

Backends (``backends.BackendKind``): the own user+mount namespace set-up with Landlock and
seccomp, bubblewrap with seccomp, or Landlock and seccomp alone. ``backends.choose_backend``
picks one a plan can be enforced with and says why for each; ``spawn.run_confined``
(async) and ``blocking.run_confined_blocking``/``blocking.exec_confined`` run commands;
``denials.detect_denial`` and ``denials.find_denials`` tell whether and what the sandbox
refused.

Each name is imported from its module; this package imports none of them, so that
importing one module (the spawn server imports only the kernel bindings and the child
set-up) does not import the others.
"""
