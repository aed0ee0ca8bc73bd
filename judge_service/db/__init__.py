"""Storage: engine and sessions, table models, and the queries over them."""
