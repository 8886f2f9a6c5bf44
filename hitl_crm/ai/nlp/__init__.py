"""Small, dependency-light text methods behind the offline backend (no model downloads)."""
