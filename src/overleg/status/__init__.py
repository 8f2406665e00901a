"""Service status: whether the services Overleg depends on answer (the admin centre's
"Service health")."""
