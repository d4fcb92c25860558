"""Thin controllers: parse the body into a Struct, call a service, return the result."""
