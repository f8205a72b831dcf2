#!/usr/bin/env python3
"""A broken worker: input_before_task."""

from common import main

main("input_before_task")
