"""The local stand-ins for the cloud's front door: the emulated API Gateway server."""
