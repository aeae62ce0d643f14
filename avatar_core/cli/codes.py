"""The command line's exit codes, which scripts rely on."""

EXIT_OK = 0  # done
EXIT_FAILED = 1  # the provider or the task failed (or something unexpected)
EXIT_BAD_INPUT = 2  # the input is not acceptable; nothing was sent
EXIT_INTERRUPTED = 130  # stopped with Ctrl-C
