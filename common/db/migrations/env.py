"""Alembic environment: runs migrations on the engine capstan hands over."""
from alembic import context

from capstan.common.db import models

target_metadata = models.Base.metadata


def run_migrations_online() -> None:
    engine = context.config.attributes["engine"]
    with engine.begin() as connection:
        context.configure(connection=connection,
                          target_metadata=target_metadata,
                          render_as_batch=connection.dialect.name == "sqlite")
        context.run_migrations()


run_migrations_online()
