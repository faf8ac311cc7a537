"""A test app (label ``library``) with a field of every Redis type, installed by
``tests.settings_admin`` only."""
