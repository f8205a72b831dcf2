#!/usr/bin/env python3
"""A broken worker: bad_input_err."""

from common import main

main("bad_input_err")
