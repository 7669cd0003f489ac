"""Storage: SQLModel tables, repositories and migrations."""
