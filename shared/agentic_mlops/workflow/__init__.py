"""The workflow: state, nodes, the node registry and the graphs built from it."""
