"""``discotool``: the command line over pydisco (argument parsing and printing only)."""
