"""pytest-llmdrift: catch behaviour changes when a model provider changes a model under you."""
