"""What each field does: validate input, call models and geo, return domain objects."""
