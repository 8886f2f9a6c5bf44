"""AI backends for leads tests."""

from hitl_crm.ai.errors import BackendError


class DownBackend:
    """A provider that is unreachable: every call fails the way a refused connection does."""

    name = "down"
    external = True

    def complete(self, skill, inputs, *, config):
        raise BackendError("Connection refused (provider unreachable)")
