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
