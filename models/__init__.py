"""Built-in demo models and data. Import-light on purpose: torch loads only with digits / mobilenet_v2."""
