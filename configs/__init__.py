"""The presets `stream-mask run --config NAME` takes: one TOML file each, in the settings schema (settings.py).

This folder is installed as the package `stream_mask.presets` (pyproject.toml maps it), so the presets work from a
wheel as from a checkout; config_files.py reads them. A new preset is one new file here."""
