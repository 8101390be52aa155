"""Loaded by every Python process started with tests/netguard on PYTHONPATH."""
import tvig_netguard  # noqa: F401
