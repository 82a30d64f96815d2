import logging

from config.request_id import current_request_id


class RequestIdFilter(logging.Filter):
    """Stamps every record with the id of the request being served (or '-')."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = current_request_id.get()
        return True
