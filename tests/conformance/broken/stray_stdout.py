#!/usr/bin/env python3
"""A broken worker: stray_stdout."""

from common import main

main("stray_stdout")
