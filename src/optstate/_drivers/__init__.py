"""Harness drivers shipped with optstate (see ``optstate check --driver``)."""
