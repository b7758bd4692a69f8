"""Checkers, one module per lesson (setup.py for 00, and so on)."""
