"""The release gate: the only code that reads the vault and writes the reading room."""
