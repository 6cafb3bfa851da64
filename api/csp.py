"""The Content-Security-Policy of every response (django-csp).

Everything the API answers is JSON that loads nothing, so it gets the
strictest policy, CONTENT_SECURITY_POLICY (`default-src 'none'`). The pages
a person opens in a browser (the admin, Swagger UI, ReDoc) get
CONTENT_SECURITY_POLICY_PAGES: files from this site only, and no inline
script or style except those that carry this response's nonce. Which policy
a response gets is decided here, by the view that answered.

The web client's page at `/` (web/index.html, served by WhiteNoise before any
view) gets CONTENT_SECURITY_POLICY_WEB_CLIENT: it has no inline script or
style at all, so it needs no nonce, and Trusted Types refuse any string that
would be parsed as HTML.
"""

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

# The views that render pages: every view of the admin, and the two docs pages.
PAGE_NAMESPACES = {"admin"}
PAGE_URL_NAMES = {"swagger-ui", "redoc"}
# The one document of the web client (WhiteNoise's index file: /index.html
# redirects here). Its scripts and styles need no policy of their own.
WEB_CLIENT_PATHS = {"/"}


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    def get_policy_parts(
        self, request: HttpRequest, response: HttpResponseBase, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if not report_only and parts.config is None:
            if request.path in WEB_CLIENT_PATHS:
                parts.config = settings.CONTENT_SECURITY_POLICY_WEB_CLIENT["DIRECTIVES"]
            elif is_page(request):
                parts.config = settings.CONTENT_SECURITY_POLICY_PAGES["DIRECTIVES"]
        return parts


def is_page(request: HttpRequest) -> bool:
    match = request.resolver_match
    if match is None:
        return False
    return bool(PAGE_NAMESPACES & set(match.namespaces)) or match.url_name in PAGE_URL_NAMES
