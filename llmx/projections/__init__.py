"""Pure folds and renderers over the event stream. Imports only :mod:`llmx.events`."""
