from audit.registry import register

ORG_CREATED = register("org.created", "An organization was created")
ORG_UPDATED = register("org.updated", "An organization's name or settings changed")
MEMBER_ADDED = register("member.added", "A user joined the organization")
MEMBER_ROLE_CHANGED = register("member.role_changed", "A member's role changed")
MEMBER_REMOVED = register("member.removed", "A member was removed from the organization")
INVITATION_CREATED = register("invitation.created", "A person was invited to the organization")
INVITATION_REVOKED = register("invitation.revoked", "A pending invitation was revoked")
INVITATION_ACCEPTED = register("invitation.accepted", "An invitation was accepted")
MEMBER_JOINED_VIA_DOMAIN = register(
    "member.joined_via_domain",
    "A person joined because their verified email's domain is one the organization allows",
)
ORG_EMAIL_DOMAINS_CHANGED = register(
    "org.email_domains_changed", "The email domains allowed to join (or their role) changed"
)
INVITATION_RESENT = register(
    "invitation.resent", "A pending invitation was sent again with a new link"
)
ORG_MFA_REQUIREMENT_CHANGED = register(
    "org.mfa_requirement_changed",
    "An owner required (or stopped requiring) a second factor for password sign-in",
)
