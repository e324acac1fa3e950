"""Theme files (YAML), shipped inside the wheel as ``console.themes``."""
