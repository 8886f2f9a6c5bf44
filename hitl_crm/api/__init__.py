"""Shared REST API pieces: permissions, pagination, error format and the root router."""
