"""The crane command line."""
