from audit.registry import register

AUDIT_PURGED = register("audit.purged", "Audit events older than the org's retention were deleted")
