"""The web dashboard: an ASGI app (Starlette on uvicorn) drawing the same answers as the command line.

It reads through database connections of its own and imports neither the socket loop nor the
writer; a running hub hands it its metrics registry and a health check.
"""
