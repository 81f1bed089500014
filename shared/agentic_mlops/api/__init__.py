"""The platform's interfaces: REST and WebSocket handlers, authentication, the service."""
