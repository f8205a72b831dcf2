#!/usr/bin/env python3
"""A broken worker: hangs_after_done."""

from common import main

main("hangs_after_done")
