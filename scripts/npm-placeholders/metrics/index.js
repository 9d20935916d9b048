// Never loaded: see package.json.
