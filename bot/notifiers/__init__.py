"""Notifiers: ways the bot tells people things outside the chat it is answering."""
