"""The shop's approval actions: what happens once a person approves (DESIGN.md §1).

* ``commerce.send_purchase_order`` — e-mail a purchase order to the supplier (``purchase_orders``).
* ``commerce.change_price`` — apply a new price through the storefront channel (``prices``).
* ``commerce.publish_bundle`` — publish a curated bundle to the shop (``bundles``).

Only the approvals executor calls these handlers, and only with the approved payload.
"""

from __future__ import annotations

SEND_PURCHASE_ORDER = "commerce.send_purchase_order"
CHANGE_PRICE = "commerce.change_price"
PUBLISH_BUNDLE = "commerce.publish_bundle"


def register_actions() -> None:
    from approvals.registry import register
    from commerce.handlers.bundles import PUBLISH_BUNDLE_ACTION
    from commerce.handlers.prices import CHANGE_PRICE_ACTION
    from commerce.handlers.purchase_orders import SEND_PURCHASE_ORDER_ACTION

    for action in (SEND_PURCHASE_ORDER_ACTION, CHANGE_PRICE_ACTION, PUBLISH_BUNDLE_ACTION):
        register(action)
