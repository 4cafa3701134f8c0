"""The two shells that drive the detection core: ``replay`` (files) and ``worker`` (Kafka, through Faust).
A detection that differs between them is a bug."""
