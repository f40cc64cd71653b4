"""Per-device target profiles (TOML data) and their loader."""
