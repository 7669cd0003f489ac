"""concernbot: the shell (settings, command line, the turn service, channels)."""
