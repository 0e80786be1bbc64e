"""raw -> staging: standardize each new load, quarantine what cannot be used, reconcile the counts."""
