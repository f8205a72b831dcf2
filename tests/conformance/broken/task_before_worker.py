#!/usr/bin/env python3
"""A broken worker: task_before_worker."""

from common import main

main("task_before_worker")
