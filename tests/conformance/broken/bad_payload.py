#!/usr/bin/env python3
"""A broken worker: bad_payload."""

from common import main

main("bad_payload")
