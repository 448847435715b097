"""Tools shared by the tests and the benches: signed LINE events, the real processes (linesim,
gunicorn from the Procfile), a throwaway PostgreSQL cluster. Product code never imports this."""
