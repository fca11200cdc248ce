"""The thread door: see :mod:`llmx.runtime`, which re-exports its public names."""
