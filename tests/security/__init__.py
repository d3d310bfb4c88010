"""Reliability and security suite: isolation, prompt injection, bad input, faults, privacy.

See docs/security.md for what is promised, the measured figures and how to rerun.
"""
