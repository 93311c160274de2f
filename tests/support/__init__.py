"""Real parts for tests: a throwaway PostgreSQL cluster, free ports, processes killed by PID."""
