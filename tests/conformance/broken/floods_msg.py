#!/usr/bin/env python3
"""A broken worker: floods_msg."""

from common import main

main("floods_msg")
