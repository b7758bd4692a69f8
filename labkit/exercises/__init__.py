"""Checkers, one module per lesson (setup.py for 00, docker_cli.py for 01, ...).

Each module registers its checkers with ``@checker("NN.k")`` and lists, in
``WRONG_ANSWERS``, the mistakes each checker must reject (a list, or a function
returning one when the wrong answers depend on the live machine).
"""
