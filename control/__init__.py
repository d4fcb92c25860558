"""The HTTP control plane: a thin Litestar adapter over `mta` services."""
