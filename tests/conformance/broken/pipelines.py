#!/usr/bin/env python3
"""A broken worker: pipelines."""

from common import main

main("pipelines")
