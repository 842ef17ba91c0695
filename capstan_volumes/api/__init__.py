"""The volume application's REST resources and their operations."""
