"""Alembic environment: runs migrations on the engine capstan hands over.

The framework's models and those of the installed applications (their
declarations' ``models`` modules) make the target metadata.
"""
import importlib

from alembic import context

from capstan.common import application
from capstan.common.db import models

for _app in application.load_applications():
    if _app.models:
        importlib.import_module(_app.models)
target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection,
                          target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        context.run_migrations()


run_migrations_online()
