"""The command line: `python -m avatar_core COMMAND ...` (see `main`)."""
