from hitl_crm.delivery.checks import check_settings


def test_a_sending_lease_shorter_than_a_minute_is_refused(settings):
    assert check_settings() == []
    settings.HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS = 5
    assert [e.id for e in check_settings()] == ["delivery.E001"]
    settings.HITL_CRM_DELIVERY_SENDING_LEASE_SECONDS = "soon"
    assert [e.id for e in check_settings()] == ["delivery.E001"]
