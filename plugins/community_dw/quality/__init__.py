"""Quality: Great Expectations gate runs, quarantine reasons, gate decisions."""
