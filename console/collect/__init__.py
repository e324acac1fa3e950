"""Source-side parsers: what fabric tools, Slurm and GPU drivers print, turned into entities."""
