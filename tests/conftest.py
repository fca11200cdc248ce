"""Suite-wide settings."""

from __future__ import annotations

import os

from hypothesis import settings

# Locally, property tests draw new examples on every run (that is how they find bugs).
# In CI a commit's result must be reproducible, so examples derive from the test itself;
# a failure found locally is pinned with @example before it lands.
settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
