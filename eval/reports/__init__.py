"""Reports over finished runs: leaderboard CSV, self-contained HTML, regression gate.

Everything here reads the files a run wrote (the results CSV and the summary JSON beside
it); nothing talks to a database. Modules:

- :mod:`eval.reports.runs`: load a run into typed records (missing fields read as blank);
- :mod:`eval.reports.stats`: Wilson interval, McNemar's exact test, SQL normalisation;
- :mod:`eval.reports.leaderboard`: one row per run, ``leaderboard`` subcommand;
- :mod:`eval.reports.html`: the ``report`` subcommand;
- :mod:`eval.reports.gate`: the ``compare`` subcommand (exit 1 on a regression).
"""
