#!/usr/bin/env python3
"""A broken worker: crash."""

from common import main

main("crash")
