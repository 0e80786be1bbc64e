"""The department simulator: a synthetic city delivered the way each department delivers."""
