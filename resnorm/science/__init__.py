"""The model science: configs, the variant table, norms, the model, tasks, probes, the metric store, the trainer and whether a config can train here."""
