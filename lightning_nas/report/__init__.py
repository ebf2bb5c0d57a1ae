"""Reports of a run: leaderboard tables (``tables``) and the summary lines above them
(``run_summary``), plots and HTML (``plots``), and the same for a one-shot run folder
(``oneshot``).

Nothing here imports torch or Lightning: reports read the run store (or a one-shot run's
files).
"""

__all__: list[str] = []
