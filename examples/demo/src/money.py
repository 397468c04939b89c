"""Currency helpers."""

from decimal import ROUND_HALF_EVEN, Decimal


def round_cents(amount):
    """Rounds an amount to whole cents, half to even."""
    return Decimal(amount).quantize(Decimal("0.01"), rounding=ROUND_HALF_EVEN)
