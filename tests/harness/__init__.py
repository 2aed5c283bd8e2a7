"""Start real parts of CRANE for tests and benchmarks: a NATS server, Traefik, the services as
processes, and small test images. Every name, port and label is unique to the run."""
