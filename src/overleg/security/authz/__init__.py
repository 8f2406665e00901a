"""Authorization: actions, role permissions, the decision point, enforcement, visibility."""
