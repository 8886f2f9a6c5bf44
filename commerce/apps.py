from __future__ import annotations

from django.apps import AppConfig

_CATALOGUE_VIEW = [
    "commerce.view_product",
    "commerce.view_stocklevel",
    "commerce.view_supplier",
    "commerce.view_competitorprice",
    "commerce.view_promotion",
    "commerce.view_stockalert",
    "commerce.view_pricesuggestion",
    "commerce.view_pricerule",
    "commerce.view_bundle",
]
_ORDERS_VIEW = ["commerce.view_order", "commerce.view_orderline", "commerce.view_purchaseorder"]
_CATALOGUE_EDIT = [
    "commerce.add_product",
    "commerce.change_product",
    "commerce.add_stocklevel",
    "commerce.change_stocklevel",
    "commerce.add_supplier",
    "commerce.change_supplier",
    "commerce.add_competitorprice",
    "commerce.add_promotion",
    "commerce.change_promotion",
    "commerce.change_stockalert",
    "commerce.add_purchaseorder",
    "commerce.add_pricerule",
    "commerce.change_pricerule",
    "commerce.add_pricesuggestion",
    "commerce.change_bundle",
]


class CommerceConfig(AppConfig):
    name = "commerce"
    label = "commerce"
    verbose_name = "Commerce"
    default_auto_field = "django.db.models.BigAutoField"
    role_permissions = {
        "Manager": [*_CATALOGUE_VIEW, *_ORDERS_VIEW, *_CATALOGUE_EDIT, "commerce.import_orders"],
        "Sales rep": [*_CATALOGUE_VIEW, *_ORDERS_VIEW],
        "Marketer": [*_CATALOGUE_VIEW, *_ORDERS_VIEW, "commerce.change_bundle"],
    }

    def ready(self) -> None:
        from commerce.handlers import register_actions

        register_actions()
