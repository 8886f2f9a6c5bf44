"""The redaction test table, shared by tests/ai/test_trust.py and bench/ai_offline.py.

Every value here is invented for testing: example.com/.example domains, 555-01xx numbers,
card numbers from payment providers' public test ranges, IBANs from the standard's examples.
Each case: (text, known record data, {placeholder: original} that must appear).
"""

from __future__ import annotations

from typing import Any

PiiCase = tuple[str, dict[str, Any], dict[str, str]]

RECORD = {"names": ["Maria Gonzalez"], "emails": ["maria.gonzalez@customer.example"], "phones": ["+14155550123"]}

PII_CASES: list[PiiCase] = [
    ("Write to maria.gonzalez@customer.example please.", RECORD, {"[EMAIL_1]": "maria.gonzalez@customer.example"}),
    ("My other mail is m.g+orders@mail.example.com", {}, {"[EMAIL_1]": "m.g+orders@mail.example.com"}),
    ("CC: Billing.Team@Acme-Corp.example.org, thanks", {}, {"[EMAIL_1]": "Billing.Team@Acme-Corp.example.org"}),
    ("Call me on (415) 555-0123 after 5.", {}, {"[PHONE_1]": "(415) 555-0123"}),
    ("Mobile: +1 415-555-0199", {}, {"[PHONE_1]": "+1 415-555-0199"}),
    ("UK office +44 20 7946 0958 is open.", {}, {"[PHONE_1]": "+44 20 7946 0958"}),
    ("Berlin: +49 30 901820 ask for sales", {}, {"[PHONE_1]": "+49 30 901820"}),
    ("Reach me at 415.555.0142 today", {}, {"[PHONE_1]": "415.555.0142"}),
    ("Visa 4111 1111 1111 1111 was charged twice", {}, {"[CARD_1]": "4111 1111 1111 1111"}),
    ("card: 5555-5555-5555-4444 exp 12/28", {}, {"[CARD_1]": "5555-5555-5555-4444"}),
    ("Amex 378282246310005 please refund", {}, {"[CARD_1]": "378282246310005"}),
    ("Discover 6011 1111 1111 1117.", {}, {"[CARD_1]": "6011 1111 1111 1117"}),
    ("IBAN DE89 3704 0044 0532 0130 00 for the refund", {}, {"[IBAN_1]": "DE89 3704 0044 0532 0130 00"}),
    ("Pay to GB82WEST12345698765432.", {}, {"[IBAN_1]": "GB82WEST12345698765432"}),
    ("FR14 2004 1010 0505 0001 3M02 606 is my account", {}, {"[IBAN_1]": "FR14 2004 1010 0505 0001 3M02 606"}),
    ("NL91ABNA0417164300", {}, {"[IBAN_1]": "NL91ABNA0417164300"}),
    ("Hi, this is Maria Gonzalez from Denver.", RECORD, {"[NAME_1]": "Maria Gonzalez"}),
    ("Thanks, Maria", RECORD, {"[NAME_1]": "Maria"}),
    ("Mr. Gonzalez asked again", RECORD, {"[NAME_1]": "Gonzalez"}),
    ("Record phone +14155550123 on file", RECORD, {"[PHONE_1]": "+14155550123"}),
    (
        "Maria Gonzalez (maria.gonzalez@customer.example, 415-555-0123) paid with 4111111111111111.",
        RECORD,
        {
            "[NAME_1]": "Maria Gonzalez",
            "[EMAIL_1]": "maria.gonzalez@customer.example",
            "[PHONE_1]": "415-555-0123",
            "[CARD_1]": "4111111111111111",
        },
    ),
    (
        "Email a@b.example or c@d.example; a@b.example again.",
        {},
        {"[EMAIL_1]": "a@b.example", "[EMAIL_2]": "c@d.example"},
    ),
]

#: Look-alikes that must survive untouched (order numbers, dates, failed checksums, amounts).
NOT_PII: list[str] = [
    "Order 113542617735902 has not arrived.",
    "Invoice #4587345 from 2026-03-14 for $1,249.99",
    "Card 4111 1111 1111 1112 fails the Luhn check",
    "DE00 3704 0044 0532 0130 00 fails mod 97",
    "Tracking number 1Z999AA10123456784",
    "We open at 9:30 and close at 17:00.",
]


def pii_values(case: PiiCase) -> list[str]:
    return list(case[2].values())
