"""Code shared by test modules in several folders (not tests themselves; nothing here is
collected). Imported as ``helpers.<module>``: tests/conftest.py puts tests/ on sys.path."""
