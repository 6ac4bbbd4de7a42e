"""Domain events and the in-process bus that fans them out."""
