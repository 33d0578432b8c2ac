"""Colour spaces: sRGB ↔ CIE Lab (`lab`) and the grayscale input mode that sees L and predicts ab (`grayscale`)."""
