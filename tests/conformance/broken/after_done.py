#!/usr/bin/env python3
"""A broken worker: after_done."""

from common import main

main("after_done")
