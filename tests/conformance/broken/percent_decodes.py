#!/usr/bin/env python3
"""A broken worker: percent_decodes."""

from common import main

main("percent_decodes")
