"""Person resolution: deterministic by ID number, probabilistic (Splink) for the rest."""
