#!/usr/bin/env python3
"""A broken worker: garbage_output."""

from common import main

main("garbage_output")
