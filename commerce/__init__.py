"""Commerce: products, stock and orders; demand forecasts, reorder alerts and purchase-order approvals."""
