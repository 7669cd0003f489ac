"""Channels: each translates between a messaging surface and the turn service."""
