from contextlib import contextmanager
from datetime import datetime
from unittest import mock

from django.db import transaction

from audit.actors import Actor
from audit.services import record
from orgs.audit_actions import ORG_UPDATED


@contextmanager
def frozen_now(moment: datetime):
    """``auto_now_add`` stamps with ``django.utils.timezone.now``; an audit row cannot be
    back-dated after the fact (the table is append-only), so it is written in the past."""
    with mock.patch("django.utils.timezone.now", return_value=moment):
        yield


def record_at(moment: datetime, *, org_id, action=ORG_UPDATED, actor=None, **kwargs):
    with frozen_now(moment), transaction.atomic():
        return record(org_id=org_id, action=action, actor=actor or Actor.system(), **kwargs)
