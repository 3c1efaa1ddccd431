"""Benchmarks of tap.ebook_storage on a LocalStack of their own: `bench/run` (not part of `make test`)."""
