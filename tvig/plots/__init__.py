"""Figures of tvig (matplotlib; every function returns a Figure). One module per topic."""
