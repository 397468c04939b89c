"""The orders endpoint."""


def list_orders(db, user_id):
    """GET /orders: every order of the user, newest first."""
    return db.query("SELECT * FROM orders WHERE user_id = ? ORDER BY created DESC", user_id)
