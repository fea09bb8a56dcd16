"""Python-side helpers of refsan (written to a temporary directory at run time)."""
