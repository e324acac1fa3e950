"""The vocabulary every stage shares (entities, safe text, safe files), the store, the engine and
the wiring that builds them."""
