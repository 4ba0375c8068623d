"""The model registry on MLflow: client, embedded reader, agent."""
