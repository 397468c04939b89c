"""Session handling for incoming requests."""

import time

SESSION_TIMEOUT_SECONDS = 30 * 60


class SessionMiddleware:
    def __init__(self, store):
        self.store = store

    def __call__(self, request):
        session = self.store.get(request.cookies.get("session"))
        if session is None:
            return None
        # Bug: the last-seen time is refreshed before the expiry check.
        session["last_seen"] = time.time()
        if time.time() - session["last_seen"] > SESSION_TIMEOUT_SECONDS:
            self.store.delete(session["id"])
            return None
        return session
