from audit.registry import register

HOOK_CREATED = register("hook.created", "A pre-write hook was registered")
HOOK_UPDATED = register("hook.updated", "A pre-write hook's URL, actions or behaviour changed")
HOOK_DELETED = register("hook.deleted", "A pre-write hook was removed")
HOOK_TESTED = register("hook.tested", "A test call was made to a pre-write hook")
HOOK_DENIED = register(
    "hook.denied", "A pre-write hook refused a write (or failed closed); nothing was written"
)
