"""What must survive a crash, shared by the edge client and the FL server.

``files``: files that are whole or absent (atomic writes). ``spool``: an ordered outbox on
disk, delivered to monitoring with backoff (``retry``). Both sides import this package and it
imports neither of them (nor the admin CLI): a contract in ``.importlinter`` keeps it so.
"""
