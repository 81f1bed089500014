"""The CDK app that deploys the platform (``cdk.json`` runs :mod:`infra.app`)."""
