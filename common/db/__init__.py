"""capstan's database layer: models, the Database facade and migrations."""
