#!/usr/bin/env python3
"""A broken worker: absolute_output."""

from common import main

main("absolute_output")
