from audit.registry import register

USER_CREATED = register("user.created", "A user account was created")
USER_UPDATED = register("user.updated", "A user account was changed")
USER_DELETED = register("user.deleted", "A user account was deleted")
