"""Window features that plug in through the feature protocol: classroom, lecture mode, scenarios,
side by side, gradient lab, files and export."""
