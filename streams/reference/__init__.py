"""Reference data and pure helpers the rules consult: number classification, patterns, rate tables,
number ranges, privacy (pseudonyms) and text escaping."""
