"""Settings (one frozen dataclass) and the documentation generated from them."""
