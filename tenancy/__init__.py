"""Tenancy: the one mechanism that keeps a tenant row inside its org.

A library, not a Django app: it imports Django only, so every floor of the project (the
audit ground floor included) stands on it.
"""
