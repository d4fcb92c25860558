"""ScaiSend's mail transfer agent: one package per feature, the shared core types in `core/`,
and the process that runs them in `server/`. docs/architecture.md is the map."""
