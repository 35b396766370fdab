"""octogate: a self-hosted SMS gateway speaking the Octopush API v1.6.1 over SMPP 3.4."""
