"""Django's SQLite backend with a queue for writers (api.sqlite.writers).

ENGINE "api.sqlite" when DATABASE_URL is a SQLite file (config/settings).
"""
