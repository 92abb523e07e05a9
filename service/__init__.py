"""The Cabin Registry: national registry and compliance service for teleconsultation cabins."""
