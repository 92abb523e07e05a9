"""API clients, their hashed keys, roles and scopes, and the dependencies that check them."""
