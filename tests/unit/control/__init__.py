"""Unit tests of the HTTP adapter (control/)."""
