"""The pure core: journeys as state machines, risk, pathway advice and content."""
