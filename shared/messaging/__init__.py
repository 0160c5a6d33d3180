"""Messaging plumbing: what a message looks like in flight, outbox, inbox, and the two transports."""
