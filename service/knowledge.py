"""The starter knowledge base for Northwind Outfitters (demo data and a template for real ones).

Written in the voice a support team would publish. Deliberately phrased as policy ("orders can
be returned …") rather than as promises to one customer: drafts quote these sentences, and a
promise of a refund must come from an approved refund, never from an article.
"""

from __future__ import annotations

ARTICLES: list[dict[str, str]] = [
    {
        "title": "Delivery times and tracking",
        "tags": "shipping, delivery, tracking",
        "body": (
            "Orders placed before 2 pm on a working day leave our warehouse the same day. Standard delivery "
            "takes 3 to 5 working days within the continental US; express delivery takes 1 to 2 working days.\n\n"
            "Where is my order? Open the tracking link in the shipping email: it shows where your order is and the "
            "expected delivery day. The tracking number is emailed to the address on the order as soon as the "
            "carrier scans the parcel.\n\n"
            "If the tracking page has not changed for a few days, the parcel may be delayed at the carrier. "
            "Support can open an investigation with the carrier, which usually takes 2 working days. If the carrier "
            "confirms the parcel is lost, the order can be sent again or returned for a refund, whichever the "
            "customer prefers."
        ),
    },
    {
        "title": "Returns and exchanges",
        "tags": "returns, exchange, refunds",
        "body": (
            "Unused items in their original packaging can be returned within 30 days of delivery. Start a return "
            "from the order page in your account, or reply to your order confirmation and support will send a "
            "prepaid return label.\n\n"
            "If a jacket or boots fit too tight or too loose, they can be exchanged for a larger or smaller size. "
            "Exchanges for another size or colour are handled as a return plus a new order, so the new item is not "
            "held up waiting for the old one to arrive back.\n\n"
            "Items that have been used outdoors, personalised items and opened hygiene products such as "
            "sleeping-bag liners cannot be returned unless they are faulty."
        ),
    },
    {
        "title": "Refund policy",
        "tags": "refunds, returns, money",
        "body": (
            "Orders can be refunded within 30 days of delivery when the item is returned unused, arrives damaged, "
            "or is lost by the carrier, and the money paid goes back to the customer. Refunds over $500 take a little "
            "longer, because a manager reviews them.\n\n"
            "Refunds go back to the original payment method. Banks usually show the money within 5 to 10 working "
            "days after it has been sent.\n\n"
            "Shipping costs are refunded only when the item was faulty, damaged or sent in error. Orders older than "
            "30 days are outside the refund window, but a faulty item may still be covered by the warranty."
        ),
    },
    {
        "title": "Damaged or faulty items",
        "tags": "damaged, defective, faulty, warranty",
        "body": (
            "If an item arrives damaged or stops working - a torn tent fly, a bent or broken pole, a cracked "
            "buckle - please send a photo of the damage and the order number to support. This lets the team check "
            "the item against the carrier's delivery record.\n\n"
            "A damaged item can be replaced or refunded, whichever the customer prefers, and the return label for a "
            "damaged item is prepaid. There is no need to send the item back before the replacement ships.\n\n"
            "If the problem appears after the 30-day return window, the warranty applies instead."
        ),
    },
    {
        "title": "Warranty on Northwind gear",
        "tags": "warranty, repair, faulty",
        "body": (
            "Northwind-branded tents, jackets, packs and sleeping bags carry a 2-year warranty against defects in "
            "materials and workmanship. Northwind boots carry the same 2-year warranty. The warranty covers failed "
            "seams, broken zips, soles that come away, delaminated fabric and faulty buckles.\n\n"
            "Normal wear, accidents and damage from misuse are not covered, but the repair workshop can often fix "
            "them for a fee. Warranty claims need the order number and photos of the fault. The repair workshop "
            "replies to warranty claims within 5 working days."
        ),
    },
    {
        "title": "Sizing and fit",
        "tags": "sizing, fit, jackets, boots",
        "body": (
            "Northwind insulated jackets are cut to fit over a fleece layer, so most people choose their usual "
            "size. If you are between sizes and wear the jacket mostly over a t-shirt, choose the smaller size.\n\n"
            "Hiking boots run true to size. Try boots in the afternoon, with the socks you hike in, and leave a "
            "thumb's width in front of the toes.\n\n"
            "Every product page has a size chart with chest, waist and inside-leg measurements in centimetres and "
            "inches."
        ),
    },
    {
        "title": "Changing or cancelling an order",
        "tags": "orders, cancel, change",
        "body": (
            "Ordered the wrong size or colour by mistake? An order can be changed or cancelled until it is packed, "
            "which is usually within 2 hours of the order being placed. To change or cancel an order, reply to the "
            "order confirmation or contact support with the order number.\n\n"
            "Once the order has left the warehouse it can no longer be cancelled, but it can be returned within 30 "
            "days of delivery.\n\n"
            "Items can be added to an order that has not been packed yet; the extra items are charged separately."
        ),
    },
    {
        "title": "Changing the delivery address",
        "tags": "shipping, address, delivery",
        "body": (
            "A delivery address can be corrected until the order is packed. Contact support with the order number "
            "and the new address.\n\n"
            "After the order has shipped, the carrier can sometimes redirect the parcel: use the redirect option on "
            "the tracking page. Redirection is up to the carrier and may add a day to the delivery."
        ),
    },
    {
        "title": "Your Northwind account and password",
        "tags": "account, password, login",
        "body": (
            "To reset your password, choose 'Forgot password' on the sign-in page and follow the link in the email. "
            "The link is valid for 1 hour.\n\n"
            "If the reset email does not arrive, check the spam folder and make sure you use the email address the "
            "account was opened with. After 5 failed sign-in attempts the account is locked for 15 minutes.\n\n"
            "Support can change the email address on an account after confirming the request from the old address."
        ),
    },
    {
        "title": "Payment methods and charges",
        "tags": "payment, billing, charges",
        "body": (
            "We accept Visa, Mastercard, American Express, PayPal and bank transfer for business accounts. Cards are "
            "charged when the order ships, not when it is placed.\n\n"
            "A pending authorisation may appear twice on a card statement if an order was edited; the extra "
            "authorisation disappears on its own within 3 to 5 working days and is never charged.\n\n"
            "If a charge still appears twice after that, send support the order number and the card type so the "
            "billing team can check it."
        ),
    },
    {
        "title": "Invoices and receipts for businesses",
        "tags": "invoice, receipt, business, tax",
        "body": (
            "Every order comes with a receipt by email. Business customers can download VAT or sales-tax invoices "
            "from the order page in their account.\n\n"
            "To add a company name, purchase-order number or tax id to an invoice, contact support with the order "
            "number before the end of the month in which the order was placed. Business accounts can pay invoices "
            "by bank transfer within 30 days."
        ),
    },
    {
        "title": "Bulk and team orders",
        "tags": "bulk, business, team, pricing",
        "body": (
            "Clubs, schools, lodges and companies ordering 20 or more of one item can ask for a bulk quote. The "
            "business sales team replies to quote requests within 1 working day and confirms the delivery date "
            "for large orders with the quote.\n\n"
            "Bulk orders can include embroidery of a logo on jackets and packs. Embroidered items are made to order "
            "and cannot be returned unless they are faulty."
        ),
    },
    {
        "title": "Caring for down and waterproof gear",
        "tags": "care, cleaning, down, waterproof",
        "body": (
            "Wash down jackets and sleeping bags on a gentle cycle with a down-specific wash, then tumble dry on low "
            "heat with two clean tennis balls until no clumps remain.\n\n"
            "Waterproof shells keep working longer when they are washed: dirt and body oils clog the membrane. Wash "
            "with a technical cleaner, then refresh the water-repellent finish with a spray-on treatment or a warm "
            "tumble dry."
        ),
    },
    {
        "title": "International shipping and customs",
        "tags": "shipping, international, customs",
        "body": (
            "Northwind ships to Canada, the UK, the EU, Norway, Switzerland and Australia. International delivery "
            "takes 5 to 10 working days.\n\n"
            "Import duties and taxes are calculated at checkout for the UK and the EU, so nothing more is due on "
            "delivery. For other countries the carrier may collect duties from the recipient."
        ),
    },
]
