#!/usr/bin/env python3
"""A broken worker: wrong_length."""

from common import main

main("wrong_length")
