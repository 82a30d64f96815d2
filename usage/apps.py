from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "Usage metering"

    def ready(self) -> None:
        # The counters' buffer rides orgs.ratelimits' round trips from the first request on.
        from usage import counters  # noqa: F401
