"""Backend-neutral pieces both stores share: row ⇄ model shapes, merge bookkeeping, migrations.

Nothing here speaks SQL; each backend passes in how its driver stores times and lists.
"""
