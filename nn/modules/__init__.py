"""Layer classes; `nn/__init__.py` re-exports them."""
