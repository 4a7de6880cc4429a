"""Accounts: staff users (passwords, roles, sessions' generations) and API tokens."""
