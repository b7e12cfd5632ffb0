"""Periodic geometry shared by structures (``metamat.data``) and interatomic potentials: neighbour lists.

The lowest layer above ``errors``/``files``: it imports numpy and ASE only, never another metamat package.
"""
