"""Where a sign-in may send the browser afterwards: the deployment's own hosts only."""

from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest
from django.utils.http import url_has_allowed_host_and_scheme

DEFAULT_NEXT = "/"


def is_own_host(hostname: str | None, request: HttpRequest) -> bool:
    if not hostname:
        return False
    hostname = hostname.lower().rstrip(".")
    base = settings.BASE_DOMAIN.lower()
    own = request.get_host().rsplit(":", 1)[0].lower()
    return hostname in (base, own) or hostname.endswith(f".{base}")


def safe_next(url: str | None, request: HttpRequest) -> str:
    """``url`` when it is a path on this host or a URL on one of the deployment's hosts;
    ``DEFAULT_NEXT`` otherwise. Refuses scheme-relative ``//evil``, look-alike hosts
    (``portal.<base>.evil.example``), ``javascript:`` and other schemes, backslashes and
    control characters (which browsers read as slashes or drop)."""
    if not url or any(ch == "\\" or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in url):
        return DEFAULT_NEXT
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        allowed = url.startswith("/") and not url.startswith("//")
        return (
            url
            if allowed and url_has_allowed_host_and_scheme(url, allowed_hosts=None)
            else DEFAULT_NEXT
        )
    if not is_own_host(parts.hostname, request):
        return DEFAULT_NEXT
    if url_has_allowed_host_and_scheme(
        url, allowed_hosts={parts.netloc}, require_https=request.is_secure()
    ):
        return url
    return DEFAULT_NEXT
