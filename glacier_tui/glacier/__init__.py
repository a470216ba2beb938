"""The service layer: async Glacier client, models, errors, tree hash. No Textual imports."""
