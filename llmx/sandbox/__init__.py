"""Sandbox policies, permission profiles, environment policy and kernel enforcement.

Imports nothing else from llmx.
"""
