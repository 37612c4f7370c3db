"""``make bench``: the benchmark as a package (``python -m bench`` with ``hack`` and ``tests`` on
the path). ``__main__`` runs it; ``harness``, ``scenarios``, ``measure`` and ``report`` are its parts."""
