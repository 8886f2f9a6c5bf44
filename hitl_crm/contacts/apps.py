from django.apps import AppConfig

_VIEW = ["contacts.view_account", "contacts.view_contact", "contacts.view_activity"]
_EDIT = ["contacts.add_contact", "contacts.change_contact", "contacts.add_activity"]


class ContactsConfig(AppConfig):
    name = "hitl_crm.contacts"
    label = "contacts"
    verbose_name = "Contacts"
    nav = [{"label": "Contacts", "url_name": "web:contact_list", "order": 60, "permission": "contacts.view_contact"}]
    role_permissions = {
        "Sales rep": [*_VIEW, *_EDIT, "contacts.add_account", "contacts.change_account"],
        "Support agent": [*_VIEW, *_EDIT],
        "Marketer": [*_VIEW, *_EDIT],
        "Manager": [
            *_VIEW,
            *_EDIT,
            "contacts.add_account",
            "contacts.change_account",
            "contacts.delete_contact",
            "contacts.delete_account",
        ],
    }

    def seed_demo(self, *, stdout) -> None:
        from hitl_crm.contacts.demo import seed

        seed(stdout=stdout)
