from audit.registry import register

AUDIT_PURGED = register("audit.purged", "Audit events older than the org's retention were deleted")
AUDIT_EXPORTED = register(
    "audit.exported", "The audit log (or the part of it a member may read) was exported"
)
