#!/usr/bin/env python3
"""A broken worker: input_err_first."""

from common import main

main("input_err_first")
