"""Settings of the server `make bench` measures: production's, plus the bench's comparison views.

Everything of ``config.settings`` holds (DEBUG off, PostgreSQL with its pool, Redis, the same
middleware and authentication classes); this module only adds djangorestframework-api-key
(whose table one comparison view reads) and a URLconf that puts the comparison views next
to the app's own routes. Production never loads it.
"""

from config.settings import *  # noqa: F403
from config.settings import INSTALLED_APPS

INSTALLED_APPS = [*INSTALLED_APPS, "rest_framework_api_key"]
ROOT_URLCONF = "bench.urls"

# `BENCH_RATE_LIMITS=off` measures what the rate limiter's Redis round trip costs (never the
# default: the bench's figures are with limiting on, as deployed).
if env.str("BENCH_RATE_LIMITS", default="on") == "off":  # noqa: F405
    REST_FRAMEWORK = {**REST_FRAMEWORK, "DEFAULT_THROTTLE_CLASSES": []}  # noqa: F405
    MIDDLEWARE = [m for m in MIDDLEWARE if m != "config.ratelimiting.RateLimitMiddleware"]  # noqa: F405
