"""The store: SQLModel tables, the engine, and the named queries the app needs."""
