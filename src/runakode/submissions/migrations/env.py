from alembic import context

# Run by store.migrate() on a connection it opened (and locked); never from the alembic CLI.
connection = context.config.attributes["connection"]
context.configure(connection=connection, target_metadata=None, render_as_batch=True)
with context.begin_transaction():
    context.run_migrations()
