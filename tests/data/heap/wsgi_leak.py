"""A WSGI app for gunicorn with two workers, one of which leaks: the first
worker to lock the file named by LOADPROF_LEAK_LOCK keeps 32 KB per request
in remember_request; the other keeps nothing."""
import fcntl
import os

_lock = open(os.environ["LOADPROF_LEAK_LOCK"], "w")
try:
    fcntl.flock(_lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    LEAKER = True
except OSError:
    LEAKER = False

KEPT = []


def remember_request(environ):
    KEPT.append(bytearray(32_000))


def app(environ, start_response):
    if LEAKER:
        remember_request(environ)
    body = f"{os.getpid()} {'leaker' if LEAKER else 'clean'}\n".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
