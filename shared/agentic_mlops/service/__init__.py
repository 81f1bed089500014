"""The application service: every command and read of the platform, for every entry point."""
