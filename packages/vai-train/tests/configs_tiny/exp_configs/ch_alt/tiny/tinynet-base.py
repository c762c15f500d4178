"""Channel variant of the base exp (tests -c:e)."""
# ruff: noqa: F821

include("../../tiny/tinynet-base.py")
num_epochs = 1
