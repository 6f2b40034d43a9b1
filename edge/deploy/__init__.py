"""Deployment to a device over ssh: probe, packages, release layout and scripts, the deploy command."""
