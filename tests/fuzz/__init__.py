"""Random sequences of input through the real turn service (see test_turns.py)."""
