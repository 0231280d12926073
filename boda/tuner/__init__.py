"""Tuning: measuring kernel candidates, searching their spaces, and keeping the results.

    measure.py     the measurement protocol: compile, verify against numpy, time (ProblemBench)
    strategies.py  search strategies over a family's parameter space
    workers.py     child processes that compile and verify candidates, so bad ones cost a process
    tune.py        the tuning session: a model's distinct Problems under one time budget
    database.py    the tuning database as storage: trials, winners, export/import, shipped files
    db_keys.py     the keys it stores under: device identity and lookup levels, problems, params
"""
