"""Demo data for contacts: a believable customer base for an outdoor-gear business.

Deterministic (fixed seed) and idempotent: rows are keyed by domain and email, and
history is written only for contacts created in this run.
"""

from __future__ import annotations

import random
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from hitl_crm.contacts.models import Account, Activity, Contact

COMPANIES = [
    ("Alpine Lodge Group", "alpinelodge.example", "Hospitality", 240, "CH", "vip"),
    ("Bayside Scout Council", "baysidescouts.example", "Non-profit", 35, "US", "standard"),
    ("Cascade Trail Runners", "cascadetrail.example", "Sports club", 12, "US", "standard"),
    ("Driftwood Kayak Tours", "driftwoodkayak.example", "Tourism", 18, "CA", "premium"),
    ("Evergreen Schools District", "evergreen-sd.example", "Education", 1800, "US", "vip"),
    ("Fjord Adventure AS", "fjordadventure.example", "Tourism", 64, "NO", "premium"),
    ("Granite Peak Guides", "granitepeak.example", "Tourism", 22, "US", "standard"),
    ("Harbor Fitness", "harborfitness.example", "Fitness", 90, "GB", "standard"),
    ("Ironwood Construction", "ironwoodbuild.example", "Construction", 410, "US", "premium"),
    ("Juniper Health Clinics", "juniperhealth.example", "Healthcare", 760, "US", "vip"),
    ("Kestrel Logistics", "kestrel-log.example", "Logistics", 1300, "DE", "premium"),
    ("Lakeside Summer Camps", "lakesidecamps.example", "Education", 55, "US", "standard"),
    ("Meridian Field Research", "meridianfield.example", "Research", 140, "AU", "premium"),
    ("Northstar Rescue Team", "northstar-rescue.example", "Public safety", 48, "CA", "vip"),
    ("Oakridge University Outdoors", "oakridge-outdoors.example", "Education", 25, "US", "standard"),
    ("Pinecrest Resorts", "pinecrest.example", "Hospitality", 520, "US", "vip"),
    ("Quarry Climbing Gym", "quarryclimb.example", "Fitness", 30, "GB", "standard"),
    ("Riverbend Outfitters Co-op", "riverbend.example", "Retail", 75, "US", "premium"),
    ("Summit Events", "summitevents.example", "Events", 16, "IE", "standard"),
    ("Tidewater Sailing School", "tidewatersail.example", "Education", 20, "NL", "standard"),
    ("Upland Forestry Service", "uplandforestry.example", "Forestry", 300, "SE", "premium"),
    ("Valley Ski Patrol", "valleyski.example", "Public safety", 60, "AT", "standard"),
    ("Westwind Film Productions", "westwindfilm.example", "Media", 85, "US", "premium"),
    ("Yellowstone Field Labs", "ysfieldlabs.example", "Research", 40, "US", "standard"),
    ("Zephyr Cycling Club", "zephyrcycling.example", "Sports club", 9, "FR", "standard"),
    ("Arbor Day Volunteers", "arborvolunteers.example", "Non-profit", 14, "US", "standard"),
    ("Basecamp Coworking", "basecampcowork.example", "Real estate", 28, "DE", "standard"),
    ("Coastal Parks Authority", "coastalparks.example", "Government", 650, "US", "vip"),
]
FIRST = [
    "Olivia",
    "Liam",
    "Emma",
    "Noah",
    "Ava",
    "Mateo",
    "Sophia",
    "Lucas",
    "Amara",
    "Ethan",
    "Chloe",
    "Kenji",
    "Isla",
    "Omar",
    "Freya",
    "Diego",
    "Hannah",
    "Ravi",
    "Zoe",
    "Tomasz",
    "Leah",
    "Samuel",
    "Nora",
    "Kwame",
    "Ingrid",
    "Pablo",
    "Maya",
    "Felix",
    "Aisha",
    "Jonas",
]
LAST = [
    "Andersen",
    "Baker",
    "Castillo",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Hughes",
    "Ibrahim",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nguyen",
    "O'Brien",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Ueda",
    "Varga",
    "Walsh",
    "Xu",
    "Yilmaz",
    "Zimmermann",
    "Alvarez",
    "Bergstrom",
    "Chen",
    "Novak",
]
TITLES = [
    "Operations Manager",
    "Purchasing Lead",
    "Head of Programs",
    "Office Manager",
    "Director",
    "Equipment Coordinator",
    "Owner",
    "Facilities Manager",
    "Program Assistant",
    "Finance Officer",
]
HISTORY = [
    ("email_in", "Asked about bulk pricing for {item}"),
    ("email_out", "Sent the {item} catalogue"),
    ("call", "Call about the spring order of {item}"),
    ("meeting", "Product demo: {item}"),
    ("purchase", "Ordered {n} × {item}"),
    ("site_visit", "Viewed the {item} page"),
    ("form", "Requested a quote for {item}"),
    ("note", "Prefers delivery before the season starts"),
    ("case", "Support case: delayed delivery of {item}"),
]
ITEMS = [
    "4-season tents",
    "insulated jackets",
    "trekking poles",
    "avalanche beacons",
    "dry bags",
    "headlamps",
    "sleeping bags",
    "first-aid kits",
    "climbing harnesses",
    "rain shells",
]


@transaction.atomic
def seed(*, stdout) -> None:
    rng = random.Random(20261121)
    now = timezone.now()
    accounts = []
    for name, domain, industry, employees, country, tier in COMPANIES:
        account, _ = Account.objects.get_or_create(
            domain=domain,
            defaults={"name": name, "industry": industry, "employees": employees, "country": country, "tier": tier},
        )
        accounts.append(account)

    created_contacts = []
    for i in range(150):
        first, last = FIRST[i % len(FIRST)], LAST[(i * 7 + i // len(FIRST)) % len(LAST)]
        account = accounts[i % len(accounts)]
        email = f"{first}.{last}".lower().replace("'", "") + f"@{account.domain}"
        consent = rng.random() < 0.7
        contact, created = Contact.objects.get_or_create(
            email=email,
            defaults={
                "first_name": first,
                "last_name": last,
                "account": account,
                "title": rng.choice(TITLES),
                "phone": f"+1415555{1000 + i:04d}",
                "email_consent": consent,
                "consent_at": now - timedelta(days=rng.randint(30, 400)) if consent else None,
                "unsubscribed_at": now - timedelta(days=rng.randint(1, 60))
                if not consent and rng.random() < 0.2
                else None,
                "created_at": now - timedelta(days=rng.randint(60, 500)),
            },
        )
        if created:
            created_contacts.append(contact)

    activities = []
    for contact in created_contacts:
        for _ in range(rng.randint(2, 9)):
            kind, text = rng.choice(HISTORY)
            when = now - timedelta(days=rng.expovariate(1 / 25), minutes=rng.randint(0, 600))
            activities.append(
                Activity(
                    contact=contact,
                    kind=kind,
                    occurred_at=when,
                    source="demo",
                    summary=text.format(item=rng.choice(ITEMS), n=rng.randint(5, 120)),
                )
            )
    Activity.objects.bulk_create(activities, batch_size=500)
    for contact in created_contacts:
        latest = max((a.occurred_at for a in activities if a.contact_id == contact.pk), default=None)
        Contact.objects.filter(pk=contact.pk).update(last_activity_at=latest)
    stdout.write(
        f"contacts: {len(accounts)} accounts, {len(created_contacts)} new contacts, {len(activities)} activities"
    )
