"""Size limits of the event store, importable without loading the schema."""

# Inline bytes of one command output in a rollout line; the rest is stored once beside
# the rollout and referenced by an ``output_ref`` line.
DEFAULT_INLINE_OUTPUT_BYTES = 64 * 1024
