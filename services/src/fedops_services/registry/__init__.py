"""Registry: tasks and their specs, server management, clients, global model versions."""
