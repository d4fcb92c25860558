"""msgspec Structs at the HTTP boundary: request bodies and response shapes."""
