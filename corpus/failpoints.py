"""Named points where a test can freeze a process to kill it there (crash tests).

``PRAKAT_FAILPOINT=name`` makes the process print ``FAILPOINT name`` to stderr and
sleep when it reaches that point; tests/test_crash.py then sends SIGKILL. Unset (as
always outside those tests), a failpoint costs one dictionary lookup.
"""

from __future__ import annotations

import os
import sys
import time


def failpoint(name: str) -> None:
    if os.environ.get("PRAKAT_FAILPOINT") == name:
        sys.stderr.write(f"FAILPOINT {name}\n")
        sys.stderr.flush()
        time.sleep(3600)
