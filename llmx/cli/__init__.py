"""Command-line frontends: argument parsing, wiring to a session, exit codes.

Each command lives in its own module exposing ``add_parser(subparsers)``; the module must
import nothing heavy at import time (``llmx --help`` imports them all).
"""
