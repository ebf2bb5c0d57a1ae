"""Reports of a run: leaderboard tables (``tables``), plots and HTML (``plots``).

Nothing here imports torch or Lightning: reports read the run store.
"""
