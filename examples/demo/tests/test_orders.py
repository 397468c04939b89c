from src.orders.api import list_orders


class FakeDb:
    def query(self, sql, *args):
        return [("order", args)]


def test_list_orders_asks_for_the_users_orders():
    assert list_orders(FakeDb(), 7) == [("order", (7,))]
