"""People's pictures read by the model: preprocessing, the "not sure" rule, the number reader,
the predictor and the widget."""
