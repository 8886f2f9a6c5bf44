"""The service desk: cases from inbound mail, AI triage, summaries, grounded reply drafts and refund
recommendations — every reply and refund routed through the approvals gate before it reaches a customer.

Entry points: ``service.services`` (writes), ``service.selectors`` (reads), ``service.handlers`` (the only
code that sends replies or pays refunds, called by the approvals executor), ``service.tasks`` (the
pipeline on the ``ai`` queue), ``manage.py ingest_mail`` and ``POST /api/v1/inbound/``.
"""
