"""The one kind of error labrun reports: a sentence for the caller (the shim shows the last one)."""


class Refused(Exception):
    """The request cannot be done; the message says why, in one sentence."""
