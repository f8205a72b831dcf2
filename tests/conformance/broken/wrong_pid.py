#!/usr/bin/env python3
"""A broken worker: wrong_pid."""

from common import main

main("wrong_pid")
