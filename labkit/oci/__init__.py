"""The OCI specs in Python: image layout, runtime spec, and the registry (distribution) client."""
