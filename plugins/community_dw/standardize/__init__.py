"""Pure, vectorized standardizers: ID numbers, names, phones, dates, sex, addresses, coordinates."""
