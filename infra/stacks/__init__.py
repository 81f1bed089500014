"""One module per stack: data, workflow, api, web, observability, and the GitHub OIDC role."""
